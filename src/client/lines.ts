// Lines of text from a fetch body, as they arrive (NDJSON).
import { readText } from './text.ts';

export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = '';
  for await (const text of readText(body)) {
    buffer += text;
    let cut: number;
    let from = 0;
    while ((cut = buffer.indexOf('\n', from)) >= 0) {
      const line = buffer.slice(from, cut);
      from = cut + 1;
      if (line !== '') yield line;
    }
    buffer = buffer.slice(from);
  }
  if (buffer !== '') yield buffer;
}
