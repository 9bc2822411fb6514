// `pipet import`: NDJSON lines from stdin into a stream, in batches whose idempotency keys make a
// rerun append nothing twice (import-batches.ts), with a progress bar on stderr and a summary.
import { fstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import cliProgress from 'cli-progress';
import type { PipetStream } from '../client/index.ts';
import { BatchCutter, parseImportLine, type ImportBatch } from './import-batches.ts';

/** Under the server's 4 MiB batch limit (BATCH_MAX_BYTES), with room for the array's commas. */
const MAX_BATCH_BYTES = 3 * 1024 * 1024;

export type ImportOptions = { stream: PipetStream; batchSize: number; total?: number; input?: NodeJS.ReadableStream & { fd?: number }; output?: NodeJS.WritableStream };

type Tally = { lines: number; bytes: number; appended: number; skipped: number; batches: number };

/** stdin's size when it is a file (`< events.ndjson`): the bar then measures bytes; a pipe has none. */
function inputSize(fd: number | undefined): number | undefined {
  if (fd === undefined) return undefined;
  try {
    const stat = fstatSync(fd);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

function progressBar(output: NodeJS.WritableStream, known: boolean): cliProgress.SingleBar {
  const format = known
    ? 'Importing |{bar}| {percentage}% | {events} events | {rate} events/s | ETA {eta_formatted}'
    : 'Importing {events} events | {rate} events/s | ETA unknown (stdin is a pipe: give --total)';
  return new cliProgress.SingleBar({ format, stream: output, noTTYOutput: true, notTTYSchedule: 1000, hideCursor: false, etaBuffer: 50, fps: 5, barsize: 30 });
}

export async function runImport({ stream, batchSize, total, input = process.stdin, output = process.stderr }: ImportOptions): Promise<Tally> {
  const size = total === undefined ? inputSize(input.fd) : undefined;
  const bar = progressBar(output, size !== undefined || total !== undefined);
  const began = Date.now();
  const tally: Tally = { lines: 0, bytes: 0, appended: 0, skipped: 0, batches: 0 };
  const payload = () => ({ events: tally.lines, rate: Math.round(tally.lines / Math.max(0.001, (Date.now() - began) / 1000)) });
  const shown = () => (size !== undefined ? tally.bytes : tally.lines);
  bar.start(size ?? total ?? 0, 0, payload());

  const cutter = new BatchCutter({ size: batchSize, maxBytes: MAX_BATCH_BYTES });
  const send = async (batch: ImportBatch | null) => {
    if (!batch) return;
    await sendBatch(stream, batch, tally);
    bar.update(shown(), payload());
  };
  try {
    let lineNo = 0;
    for await (const text of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      tally.bytes += Buffer.byteLength(text) + 1;
      if (text.trim() === '') continue;
      await send(cutter.add(parseImportLine(text, lineNo)));
      tally.lines++;
    }
    await send(cutter.end());
  } finally {
    bar.update(shown(), payload());
    bar.stop();
  }
  output.write(summary(stream.name, tally, Date.now() - began));
  return tally;
}

async function sendBatch(stream: PipetStream, batch: ImportBatch, tally: Tally): Promise<void> {
  try {
    const result = await stream.pushMany(batch.lines.map((l) => l.body), { idempotencyKey: batch.key });
    tally.batches++;
    if (result.replayed) tally.skipped += batch.lines.length;
    else tally.appended += batch.lines.length;
  } catch (error) {
    const { index } = batch.lines[0];
    throw new Error(
      `The batch from source index ${index} (${batch.lines.length} events) was refused: ${error instanceof Error ? error.message : String(error)}\n` +
        `${tally.appended + tally.skipped} events before it are stored. Run the same command again to go on: nothing is appended twice.`,
    );
  }
}

function summary(name: string, tally: Tally, ms: number): string {
  const seconds = ms / 1000;
  const skipped = tally.skipped > 0 ? `, ${tally.skipped} already there (sent by an earlier run, not appended again)` : '';
  return `Imported ${tally.lines} events into ${name} in ${tally.batches} batches: ${tally.appended} appended${skipped}; ${seconds.toFixed(1)} s, ${Math.round(tally.lines / Math.max(seconds, 0.001))} events/s.\n`;
}
