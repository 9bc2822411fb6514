// PipetError: every failure the client reports, with the server's `{"error":{"code","message"}}`.

/** The server's error codes (docs/api.md), and the client's own: `network` and `aborted`. */
export type PipetErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'invalid_index'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'payload_too_large'
  | 'idempotency_mismatch'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal'
  | 'unavailable'
  | 'not_folded'
  | 'network'
  | 'aborted'
  | (string & {});

export class PipetError extends Error {
  readonly code: PipetErrorCode;
  /** The HTTP status, or 0 when no answer came (`network`, `aborted`). */
  readonly status: number;
  /** Seconds the server asked to wait (`Retry-After`), on 429 and 503. */
  readonly retryAfter?: number;

  constructor(code: PipetErrorCode, status: number, message: string, options: { retryAfter?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'PipetError';
    this.code = code;
    this.status = status;
    this.retryAfter = options.retryAfter;
  }

  /** Whether the same request may be sent again later: the server refused it for now, or it never arrived. */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503 || this.code === 'network';
  }

  /** A PipetError from an error answer of the public API (or a TRPCClientError of `pipet.manage`). */
  static from(error: unknown): PipetError {
    if (error instanceof PipetError) return error;
    const data = trpcData(error);
    if (data) return new PipetError(data.appCode ?? data.code.toLowerCase(), data.httpStatus, (error as Error).message, { cause: error });
    return new PipetError('network', 0, error instanceof Error ? error.message : String(error), { cause: error });
  }
}

type TrpcErrorData = { code: string; httpStatus: number; appCode?: string };

function trpcData(error: unknown): TrpcErrorData | null {
  if (!(error instanceof Error) || error.name !== 'TRPCClientError') return null;
  const data: unknown = (error as Error & { data?: unknown }).data;
  if (typeof data !== 'object' || data === null) return null;
  const { code, httpStatus, appCode } = data as Record<string, unknown>;
  if (typeof code !== 'string' || typeof httpStatus !== 'number') return null;
  return { code, httpStatus, appCode: typeof appCode === 'string' ? appCode : undefined };
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

/** The PipetError an error response stands for. Reads the body. */
export async function errorFromResponse(res: Response): Promise<PipetError> {
  const text = await res.text().catch(() => '');
  let code = `http_${res.status}`;
  let message = text.slice(0, 500) || `${res.status} ${res.statusText}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    /* not our JSON shape (a proxy's page): keep the text */
  }
  return new PipetError(code, res.status, message, { retryAfter: parseRetryAfter(res.headers.get('retry-after')) });
}
