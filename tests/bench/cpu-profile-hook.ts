// Preloaded into a Pipet process by `npm run bench:profile` (node --import): SIGUSR2 starts V8's CPU
// profiler, the next SIGUSR2 stops it and writes
// $BENCH_PROFILE_DIR/$BENCH_PROFILE_NAME.<pid>.<n>.cpuprofile — so a profile covers exactly the
// load, and the process need not exit (as `--cpu-prof` needs) to hand it over.
import { Session } from 'node:inspector/promises';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_PROFILE_DIR;
const name = process.env.BENCH_PROFILE_NAME ?? 'process';
if (dir) {
  const session = new Session();
  session.connect();
  let running = false;
  let n = 0;
  let busy = Promise.resolve();
  process.on('SIGUSR2', () => {
    busy = busy.then(async () => {
      if (!running) {
        await session.post('Profiler.enable');
        await session.post('Profiler.setSamplingInterval', { interval: 1000 });
        await session.post('Profiler.start');
        running = true;
      } else {
        const { profile } = await session.post('Profiler.stop');
        running = false;
        const file = join(dir, `${name}.${process.pid}.${++n}.cpuprofile`);
        writeFileSync(`${file}.tmp`, JSON.stringify(profile));
        // Renamed when complete, so the waiting harness never reads half a file.
        renameSync(`${file}.tmp`, file);
      }
    });
  });
}
