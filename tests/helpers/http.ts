// Small HTTP helpers for the public API tests.
export function bearer(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

export async function expectError(res: Response, status: number, code?: string): Promise<{ code: string; message: string }> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  if (typeof body.error?.message !== 'string' || body.error.message.length === 0) throw new Error(`no error message in ${text}`);
  if (code && body.error.code !== code) throw new Error(`expected code ${code}, got ${body.error.code}`);
  return body.error;
}

/** Reads Server-Sent Events until `count` events arrived (or the timeout), then aborts. */
export async function readSse(url: string, { headers = {}, count, timeoutMs = 10_000, onOpen }: { headers?: Record<string, string>; count: number; timeoutMs?: number; onOpen?: () => Promise<void> }) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const res = await fetch(url, { headers, signal: controller.signal });
  const events: { id?: string; data: string }[] = [];
  const comments: string[] = [];
  if (!res.ok || !res.body) {
    clearTimeout(timer);
    return { res, events, comments };
  }
  await onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    while (events.length < count) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event: { id?: string; data: string } = { data: '' };
        let isEvent = false;
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line.slice(1).trim());
          else if (line.startsWith('id: ')) event.id = line.slice(4);
          else if (line.startsWith('data: ')) {
            event.data += line.slice(6);
            isEvent = true;
          }
        }
        if (isEvent) events.push(event);
      }
    }
  } catch {
    /* aborted by the timeout */
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return { res, events, comments };
}
