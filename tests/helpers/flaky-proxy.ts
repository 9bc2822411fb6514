// A proxy on loopback in front of Pipet that loses answers: it forwards a POST, waits for Pipet's
// answer (so the append has committed), then drops the connection instead of passing it on. The
// client sees a network error for a request that succeeded — exactly when SDKs retry.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FlakyProxy = { url: string; host: string; posts: number; dropped: number; close(): Promise<void> };

const HOP = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Drops the answer to the first `drop` POSTs (those `shouldDrop` picks), passes everything else on. */
export async function flakyProxy(target: string, { drop = 1, shouldDrop = () => true }: { drop?: number; shouldDrop?: (path: string) => boolean } = {}): Promise<FlakyProxy> {
  const state = { posts: 0, dropped: 0 };
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await bodyOf(req);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k, v]) => !HOP.has(k) && typeof v === 'string')) as Record<string, string>;
      const answer = await fetch(new URL(req.url!, target), { method: req.method, headers, body: req.method === 'GET' || req.method === 'HEAD' ? undefined : new Uint8Array(body) });
      const text = Buffer.from(await answer.arrayBuffer());
      if (req.method === 'POST') {
        state.posts += 1;
        if (state.dropped < drop && shouldDrop(req.url!)) {
          state.dropped += 1;
          req.socket.destroy();
          return;
        }
      }
      const out: Record<string, string> = {};
      answer.headers.forEach((v, k) => {
        if (!HOP.has(k) && k !== 'content-encoding') out[k] = v;
      });
      res.writeHead(answer.status, out).end(text);
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    get posts() {
      return state.posts;
    },
    get dropped() {
      return state.dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
