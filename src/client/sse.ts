// A Server-Sent Events parser over a fetch body (the WHATWG "event stream" rules), for every runtime
// with web streams: Node 20+, browsers, Deno, Bun. EventSource itself cannot send Authorization.
import { readText } from './text.ts';

export type SseMessage = { id: string | undefined; event: string; data: string };

/**
 * The messages of an event stream, as they arrive. `onRetry` hears the server's `retry:` field.
 * Comments (heartbeats) are skipped.
 */
export async function* readSse(body: ReadableStream<Uint8Array>, onRetry: (ms: number) => void = () => {}): AsyncGenerator<SseMessage> {
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  // A final CR ends its line once the body ends (it could not be the start of a CRLF any more).
  for await (const text of withEnd(readText(body))) {
    buffer += text ?? (buffer.endsWith('\r') ? '\n' : '');
    let cut: number;
    while ((cut = lineEnd(buffer)) >= 0) {
      const line = buffer.slice(0, cut);
      buffer = buffer.slice(cut + (buffer[cut] === '\r' && buffer[cut + 1] === '\n' ? 2 : 1));
      if (line === '') {
        if (data.length > 0) yield { id, event: event || 'message', data: data.join('\n') };
        data = [];
        event = '';
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const raw = colon < 0 ? '' : line.slice(colon + 1);
        const value = raw.startsWith(' ') ? raw.slice(1) : raw;
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
        else if (field === 'id' && !value.includes('\0')) id = value;
        else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value));
      }
    }
  }
}

/** The texts, then null for the end. */
async function* withEnd(texts: AsyncGenerator<string>): AsyncGenerator<string | null> {
  yield* texts;
  yield null;
}

/** Where the first line ends (CR, LF or CRLF), or -1. A CR at the very end waits for what follows. */
function lineEnd(buffer: string): number {
  for (let i = 0; i < buffer.length; i++) {
    const c = buffer[i];
    if (c === '\n') return i;
    if (c === '\r') return i + 1 < buffer.length ? i : -1;
  }
  return -1;
}
