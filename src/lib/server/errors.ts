// One error type for the whole server, with one table from code to HTTP status and tRPC code.
export const ERROR_CODES = {
  bad_request: { status: 400, trpc: 'BAD_REQUEST' },
  invalid_json: { status: 400, trpc: 'BAD_REQUEST' },
  invalid_index: { status: 400, trpc: 'BAD_REQUEST' },
  unauthorized: { status: 401, trpc: 'UNAUTHORIZED' },
  forbidden: { status: 403, trpc: 'FORBIDDEN' },
  not_found: { status: 404, trpc: 'NOT_FOUND' },
  method_not_allowed: { status: 405, trpc: 'METHOD_NOT_SUPPORTED' },
  conflict: { status: 409, trpc: 'CONFLICT' },
  payload_too_large: { status: 413, trpc: 'PAYLOAD_TOO_LARGE' },
  idempotency_mismatch: { status: 422, trpc: 'UNPROCESSABLE_CONTENT' },
  unsupported_media_type: { status: 415, trpc: 'UNSUPPORTED_MEDIA_TYPE' },
  rate_limited: { status: 429, trpc: 'TOO_MANY_REQUESTS' },
  internal: { status: 500, trpc: 'INTERNAL_SERVER_ERROR' },
  unavailable: { status: 503, trpc: 'INTERNAL_SERVER_ERROR' },
  not_folded: { status: 503, trpc: 'TIMEOUT' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly retryAfter?: number;
  readonly details?: unknown;

  constructor(code: ErrorCode, message: string, options: { retryAfter?: number; details?: unknown } = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.retryAfter = options.retryAfter;
    this.details = options.details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

const UNREACHABLE_DB = /ECONNREFUSED|Can't reach database|Connection terminated|ETIMEDOUT|timeout exceeded when trying to connect|DatabaseNotReachable|the database system is (starting up|shutting down)/i;

/** Maps anything thrown to an AppError, hiding internals: PostgreSQL unreachable → 503. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const text = error instanceof Error ? `${error.name} ${error.message} ${(error as { code?: string }).code ?? ''}` : String(error);
  if (UNREACHABLE_DB.test(text)) {
    return new AppError('unavailable', 'The database is unreachable; try again shortly.', { retryAfter: 5 });
  }
  return new AppError('internal', 'Something went wrong on our side.');
}
