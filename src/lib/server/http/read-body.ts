// Reads a request body without ever holding more than `limit` bytes: an oversized body is
// refused while it streams in, not after it has been buffered.
import { AppError } from '../errors.ts';

/**
 * After a refusal, the rest of the body is read and dropped in the background (up to this many
 * bytes) so the 413 reaches the client: cancelling the stream destroys the connection before the
 * answer is written. A sender still going after that is cut off.
 */
const DRAIN_BYTES = 16 * 1024 * 1024;

export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > limit) {
    // Refused on its declared length alone; the body is still read and dropped (when within the
    // drain bound) so the 413 reaches a client that is still sending, instead of a reset connection.
    if (request.body && declared <= DRAIN_BYTES) void drain(request.body.getReader());
    throw new AppError('payload_too_large', `The body may be at most ${limit} bytes; this one is ${declared}.`);
  }
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      void drain(reader);
      throw new AppError('payload_too_large', `The body may be at most ${limit} bytes.`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  let dropped = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      dropped += value.byteLength;
      if (dropped > DRAIN_BYTES) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    /* the client went away */
  }
}
