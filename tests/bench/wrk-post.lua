-- wrk -s tests/bench/wrk-post.lua: POSTs the JSON body in BENCH_BODY on every request, with the
-- Authorization header in BENCH_AUTH, and prints one WRK_JSON line of figures at the end.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or '{"type":"click"}'
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("BENCH_AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
