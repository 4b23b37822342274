/** One error type for everything a client can be told; the error middleware turns it into problem+json. */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly extra: Record<string, unknown>;
  constructor(
    status: number,
    code: string,
    title: string,
    detail?: string,
    extra: Record<string, unknown> = {},
  ) {
    super(detail ?? title);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.title = title;
    this.extra = extra;
  }
}

export type FieldError = { path: string; message: string };

export class ValidationError extends AppError {
  constructor(errors: FieldError[], detail = 'The request is not valid.') {
    super(400, 'validation-failed', 'Validation failed', detail, { errors });
  }
}
export class UnauthenticatedError extends AppError {
  constructor(detail = 'A valid bearer token is required.') {
    super(401, 'unauthenticated', 'Unauthenticated', detail);
  }
}
export class InvalidCredentialsError extends AppError {
  constructor() {
    super(401, 'invalid-credentials', 'Invalid credentials', 'The email or password is wrong.');
  }
}
export class ForbiddenError extends AppError {
  constructor(detail = 'Your role may not do this.') {
    super(403, 'forbidden', 'Forbidden', detail);
  }
}
export class NotAdmittedError extends AppError {
  constructor(performanceId: number) {
    super(
      403,
      'not-admitted',
      'Not admitted',
      `Join the waiting room of performance ${performanceId} and wait until you are admitted.`,
      { waitingRoom: `/api/performances/${performanceId}/waiting` },
    );
  }
}
export class NotFoundError extends AppError {
  constructor(code = 'not-found', detail = 'There is nothing here.') {
    super(404, code, 'Not found', detail);
  }
}
export class ConflictError extends AppError {
  constructor(code: string, detail: string) {
    super(409, code, 'Conflict', detail);
  }
}
export class PaymentDeclinedError extends AppError {
  constructor(detail = 'The payment was declined.') {
    super(402, 'payment-declined', 'Payment declined', detail);
  }
}
export class RateLimitedError extends AppError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, 'rate-limited', 'Too many requests', 'Slow down and retry later.');
  }
}
/** 429: the member (or this process) has as many event streams open as allowed. */
export class TooManyStreamsError extends RateLimitedError {
  constructor(detail: string) {
    super(5);
    this.message = detail;
  }
}
/** 429: the member has as many waits (long-polls, `Prefer: wait`) open in this process as allowed. */
export class TooManyWaitsError extends RateLimitedError {
  constructor(detail: string) {
    super(1);
    this.message = detail;
  }
}
export class UnavailableError extends AppError {
  constructor(detail = 'A backing service is unreachable; retry shortly.') {
    super(503, 'unavailable', 'Service unavailable', detail);
  }
}

/** True for errors that mean MySQL or Redis could not be reached or the operation timed out. */
export function isInfrastructureError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const names = [
    'SequelizeConnectionError',
    'SequelizeConnectionRefusedError',
    'SequelizeConnectionAcquireTimeoutError',
    'SequelizeHostNotReachableError',
    'SequelizeConnectionTimedOutError',
    'SequelizeAccessDeniedError',
    'MaxRetriesPerRequestError',
  ];
  if (names.includes(err.name)) return true;
  const msg = err.message ?? '';
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'PROTOCOL_CONNECTION_LOST'].includes(code)
  )
    return true;
  return /Connection is closed|Stream isn't writeable|enableOfflineQueue|ECONNREFUSED|ECONNRESET|connect ETIMEDOUT|CLUSTERDOWN|Lock wait timeout|Deadlock found|ER_LOCK_DEADLOCK|Connection lost|Connection was killed|closed state|Connection terminated|Command timed out|EHOSTUNREACH|Reached the max retries/i.test(
    msg,
  );
}
