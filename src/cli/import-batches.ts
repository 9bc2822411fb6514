// How `pipet import` cuts NDJSON lines into batches, and each batch's idempotency key. Pure.
//
// Batches follow the source's indices: a batch holds lines whose index falls in one block of
// `size` (0–999, 1000–1999, …), cut earlier only to stay under `maxBytes`. The key is a hash of
// the batch's lines (index and body), so the same file sent again — a rerun after a crash — makes
// the same batches under the same keys, and the server appends none of them twice.
import { createHash } from 'node:crypto';

export type ImportLine = { index: number; body: unknown; bodyJson: string };
export type ImportBatch = { lines: ImportLine[]; bytes: number; key: string };

/** One NDJSON line of `pipet export` (`{"index","receivedAt","body"}`); `lineNo` stands in for a missing index. */
export function parseImportLine(text: string, lineNo: number): ImportLine {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`Line ${lineNo} is not JSON.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !('body' in value)) {
    throw new Error(`Line ${lineNo} has no \`body\`: each line is {"index", "receivedAt", "body"}, as \`pipet export\` writes.`);
  }
  const index = 'index' in value ? value.index : lineNo - 1;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) throw new Error(`Line ${lineNo}: \`index\` must be a whole number.`);
  return { index, body: value.body, bodyJson: JSON.stringify(value.body) };
}

export function batchKey(lines: ImportLine[]): string {
  const hash = createHash('sha256');
  for (const line of lines) hash.update(`${line.index}\t${line.bodyJson}\n`);
  return `import-${hash.digest('hex').slice(0, 48)}`;
}

/** Collects lines into batches: `add` returns the batch it closed (if any), `end` the last one. */
export class BatchCutter {
  private lines: ImportLine[] = [];
  private bytes = 0;
  private readonly size: number;
  private readonly maxBytes: number;

  constructor({ size, maxBytes }: { size: number; maxBytes: number }) {
    this.size = size;
    this.maxBytes = maxBytes;
  }

  add(line: ImportLine): ImportBatch | null {
    const bytes = Buffer.byteLength(line.bodyJson) + 1;
    const first = this.lines[0];
    const closes = first !== undefined && (Math.floor(first.index / this.size) !== Math.floor(line.index / this.size) || this.bytes + bytes > this.maxBytes);
    const closed = closes ? this.end() : null;
    this.lines.push(line);
    this.bytes += bytes;
    return closed;
  }

  end(): ImportBatch | null {
    if (this.lines.length === 0) return null;
    const batch = { lines: this.lines, bytes: this.bytes, key: batchKey(this.lines) };
    this.lines = [];
    this.bytes = 0;
    return batch;
  }
}
