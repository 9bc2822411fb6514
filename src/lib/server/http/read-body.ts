// Reads a request body without ever holding more than `limit` bytes: an oversized body is
// refused while it streams in, not after it has been buffered.
import { AppError } from '../errors.ts';

export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) throw new AppError('payload_too_large', `The body may be at most ${limit} bytes; this one is ${declared}.`);
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw new AppError('payload_too_large', `The body may be at most ${limit} bytes.`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}
