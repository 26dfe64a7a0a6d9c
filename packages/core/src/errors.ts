// Domain errors with codes: the API layers turn them into HTTP statuses and tRPC codes.
export type NookErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_REQUESTS'
  | 'SERVICE_UNAVAILABLE';

export const httpStatusOf: Record<NookErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  SERVICE_UNAVAILABLE: 503,
};

export class NookError extends Error {
  override name = 'NookError';
  constructor(
    readonly code: NookErrorCode,
    message: string,
    /** Seconds a client should wait before trying again (TOO_MANY_REQUESTS, SERVICE_UNAVAILABLE). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}
