// A shared "now" that ticks while anything shows a relative time, so every label stays current
// with one timer. Starts on first read in the browser (after hydration), so server-rendered
// labels are re-rendered with the reader's clock and time zone.
let now = $state(Date.now());
let mounted = $state(false);
let timer: ReturnType<typeof setInterval> | undefined;

export const clock = {
  get now() {
    if (typeof window !== 'undefined' && !timer) {
      timer = setInterval(() => (now = Date.now()), 10_000);
      queueMicrotask(() => ((now = Date.now()), (mounted = true)));
    }
    return now;
  },
  /** False during server rendering and hydration: show what the server showed. */
  get mounted() {
    return mounted;
  },
};
