// A Server-Sent Events client that behaves as EventSource does: when a stream ends or the connection
// fails it waits the server's `retry` delay and reconnects with Last-Event-ID; it records what it saw.
export type SseEvent = { id: string | null; data: string };

export type SseTail = {
  events: SseEvent[];
  /** Streams that ended with the server's "restarting" hint. */
  restartHints: number;
  /** Connections after the first. */
  reconnects: number;
  /** Non-200 answers (status codes) and connection errors (messages). */
  statuses: number[];
  errors: string[];
  /** The longest time from a stream's end to the next stream's first byte, in ms. */
  longestGapMs: number;
  waitFor(predicate: (events: SseEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
};

export function tailSse(url: string, { headers = {} }: { headers?: Record<string, string> } = {}): SseTail {
  const controller = new AbortController();
  let lastEventId: string | null = null;
  let retryMs = 1000;
  let endedAt: number | null = null;
  const tail: SseTail = {
    events: [],
    restartHints: 0,
    reconnects: 0,
    statuses: [],
    errors: [],
    longestGapMs: 0,
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(tail.events)) {
        if (Date.now() > deadline) throw new Error(`SSE ${url}: condition not met after ${tail.events.length} events (${tail.reconnects} reconnects, errors ${tail.errors.join('; ')})`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      controller.abort();
      await running.catch(() => {});
    },
  };

  const readStream = async (body: NonNullable<Response['body']>) => {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let first = true;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (first && endedAt !== null) tail.longestGapMs = Math.max(tail.longestGapMs, Date.now() - endedAt);
      first = false;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let data: string[] = [];
        let id: string | null = null;
        for (const line of block.split('\n')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === '' && /restarting/.test(text)) tail.restartHints++;
          else if (field === 'data') data.push(text);
          else if (field === 'id') id = text;
          else if (field === 'retry' && /^\d+$/.test(text)) retryMs = Number(text);
        }
        if (id !== null) lastEventId = id;
        if (data.length) tail.events.push({ id, data: data.join('\n') });
        data = [];
      }
    }
  };

  const running = (async () => {
    for (let attempt = 0; !controller.signal.aborted; attempt++) {
      if (attempt > 0) tail.reconnects++;
      try {
        const sent: Record<string, string> = { accept: 'text/event-stream', ...headers };
        if (lastEventId !== null) sent['last-event-id'] = lastEventId;
        const res = await fetch(url, { headers: sent, signal: controller.signal });
        if (res.status !== 200 || !res.body) {
          tail.statuses.push(res.status);
          await res.body?.cancel();
        } else {
          await readStream(res.body);
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        tail.errors.push(cause?.code ?? cause?.message ?? (error as Error).message);
      }
      endedAt = Date.now();
      await new Promise((r) => setTimeout(r, retryMs));
    }
  })();
  return tail;
}
