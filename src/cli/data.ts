// `pipet push | tail | state | export | import`: a stream's data in and out from a terminal, through
// the public API with `pipet/client` (src/client). Output is JSON on stdout; progress and summaries
// go to stderr, so `pipet export … | pipet import …` pipes only data.
import { parseArgs } from 'node:util';
import { once } from 'node:events';
import { Pipet } from '../client/index.ts';
import { loadProfile, profilePath } from './data-profile.ts';
import { runImport } from './data-import.ts';

export const DATA_COMMANDS = ['push', 'tail', 'state', 'export', 'import'] as const;
export type DataCommand = (typeof DATA_COMMANDS)[number];

const CONNECTION = `Server and key: PIPET_URL and PIPET_KEY, else the profile file ${profilePath()}
({"url": "https://pipet.example", "key": "pk_…"}; PIPET_PROFILE names another). STREAM is team/stream.`;

export const DATA_HELP: Record<DataCommand, string> = {
  push: `Usage: pipet push STREAM [JSON]

Appends one event: JSON from the argument, or read from stdin when it is left out.
Prints {"index","length"}. An Idempotency-Key is sent (--idempotency-key K to choose it), so a
retry after a lost answer never appends twice.

${CONNECTION}
`,
  tail: `Usage: pipet tail STREAM [--from I]

Prints every event from index I on (negative counts from the end; default: from now on), one
{"index","receivedAt","body"} per line, live until interrupted. Reconnects by itself, without
gaps or duplicates.

${CONNECTION}
`,
  state: `Usage: pipet state STREAM REDUCER [KEY] [--after I]

Prints a reducer's state (KEY: one key's, of a keyed reducer). --after I waits until event I is
folded into it (read-your-writes).

${CONNECTION}
`,
  export: `Usage: pipet export STREAM [--start I] [--end J] > events.ndjson

Writes slice(I, J) (the whole stream by default) as NDJSON, {"index","receivedAt","body"} a line,
streamed at any size. Interrupted, it says where it stopped: resume with --start N >> events.ndjson.

${CONNECTION}
`,
  import: `Usage: pipet import STREAM [--batch N] [--total N] < events.ndjson

Appends the bodies of an export's lines, in order, in batches of the source's indices (N, default
1000, each under 3 MiB). Each batch's Idempotency-Key is a hash of its lines: run it again after a
crash (within 24 hours, with the same key) and nothing is appended twice. A progress bar with rate
and ETA goes to stderr (from stdin's size, or --total when stdin is a pipe); a summary at the end.

${CONNECTION}
`,
};

export function isDataCommand(command: string | undefined): command is DataCommand {
  return DATA_COMMANDS.some((c) => c === command);
}

/** An integer option, or undefined; anything else is refused. */
export function intOption(value: string | undefined, name: string, min = -(2 ** 31)): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d{1,10}$/.test(value) || Number(value) < min) throw new Error(`--${name} must be a whole number${min === 0 ? ' (0 or more)' : min === 1 ? ' (1 or more)' : ''}, not \`${value}\`.`);
  return Number(value);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

/** Writes a line to stdout, waiting when the reader is slower than us (constant memory). */
async function writeLine(text: string): Promise<void> {
  if (!process.stdout.write(`${text}\n`)) await once(process.stdout, 'drain');
}

function client(): Pipet {
  return new Pipet(loadProfile());
}

async function push(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'idempotency-key': { type: 'string' } } });
  const [name, given, ...extra] = positionals;
  if (!name || extra.length > 0) throw new Error(DATA_HELP.push);
  const text = given ?? (await readStdin());
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw new Error(`The event is not JSON: ${text.trim().slice(0, 80) || '(empty)'}`);
  }
  const { index, length } = await client().stream(name).push(event, { idempotencyKey: values['idempotency-key'] });
  await writeLine(JSON.stringify({ index, length }));
}

async function tail(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { from: { type: 'string' } } });
  if (positionals.length !== 1) throw new Error(DATA_HELP.tail);
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.stdout.on('error', () => stop.abort()); // the reader went away (`| head`)
  for await (const entry of client().stream(positionals[0]).tail({ from: intOption(values.from, 'from'), signal: stop.signal })) {
    await writeLine(JSON.stringify(entry));
  }
}

async function state(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { after: { type: 'string' } } });
  const [name, reducer, key, ...extra] = positionals;
  if (!name || !reducer || extra.length > 0) throw new Error(DATA_HELP.state);
  const value = await client().stream(name).state(reducer, { key, after: intOption(values.after, 'after', 0) });
  await writeLine(JSON.stringify(value));
}

async function exportStream(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { start: { type: 'string' }, end: { type: 'string' } } });
  if (positionals.length !== 1) throw new Error(DATA_HELP.export);
  const start = intOption(values.start, 'start');
  let count = 0;
  let last: number | null = null;
  const began = Date.now();
  try {
    for await (const entry of client().stream(positionals[0]).entries({ start, end: intOption(values.end, 'end') })) {
      await writeLine(JSON.stringify(entry));
      count++;
      last = entry.index;
    }
  } catch (error) {
    const resume = last === null ? (start ?? 0) : last + 1;
    throw new Error(`${error instanceof Error ? error.message : String(error)}\nExported ${count} events before this; resume with --start ${resume} (appending: >> the same file).`);
  }
  const range = last === null ? 'nothing in range' : `up to index ${last}`;
  process.stderr.write(`Exported ${count} events from ${positionals[0]} (${range}) in ${((Date.now() - began) / 1000).toFixed(1)} s.\n`);
}

async function importStream(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { batch: { type: 'string' }, total: { type: 'string' } } });
  if (positionals.length !== 1) throw new Error(DATA_HELP.import);
  await runImport({ stream: client().stream(positionals[0]), batchSize: intOption(values.batch, 'batch', 1) ?? 1000, total: intOption(values.total, 'total', 0) });
}

const RUN: Record<DataCommand, (args: string[]) => Promise<void>> = { push, tail, state, export: exportStream, import: importStream };

export async function runData(command: DataCommand, args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(DATA_HELP[command]);
    return;
  }
  await RUN[command](args);
}
