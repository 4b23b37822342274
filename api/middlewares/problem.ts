import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  AppError,
  NotFoundError,
  RateLimitedError,
  UnavailableError,
  isInfrastructureError,
} from '../../shared/errors.js';
import { tracing } from '../../shared/tracing/tracing.js';

export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError('not-found', `No route for ${req.method} ${req.path}.`));
};

function fromBodyParser(err: { type?: string; status?: number; limit?: number }): AppError | undefined {
  if (err.type === 'entity.too.large')
    return new AppError(
      413,
      'payload-too-large',
      'Payload too large',
      `The body may be at most ${Math.round((err.limit ?? 16384) / 1024)} KiB.`,
    );
  if (err.type === 'entity.parse.failed')
    return new AppError(400, 'malformed-json', 'Malformed JSON', 'The body is not valid JSON.');
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported')
    return new AppError(415, 'unsupported-media-type', 'Unsupported media type', 'Send UTF-8 JSON.');
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500)
    return new AppError(err.status, 'bad-request', 'Bad request', 'The request could not be read.');
  return undefined;
}

function traceIdOf(): { traceId?: string } {
  const traceId = tracing()?.traceId();
  return traceId ? { traceId } : {};
}

/** Everything thrown becomes application/problem+json; unknown errors hide behind a generic 500. */
export const problem: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  let e: AppError;
  if (err instanceof AppError) e = err;
  else if (isInfrastructureError(err)) e = new UnavailableError();
  else
    e =
      fromBodyParser(err as { type?: string }) ??
      new AppError(500, 'internal', 'Internal error', 'Something went wrong on our side.');
  if (e instanceof UnavailableError)
    req.log?.warn({ err: (err as Error).message }, 'backing service unavailable');
  else if (e.status >= 500) req.log?.error({ err }, 'request failed');
  if (res.headersSent) return void res.end();
  if (e instanceof UnavailableError) res.setHeader('Retry-After', '2');
  if (e instanceof RateLimitedError) res.setHeader('Retry-After', String(e.retryAfterSeconds));
  res
    .status(e.status)
    .type('application/problem+json')
    .send(
      JSON.stringify({
        type: `about:blank#${e.code}`,
        title: e.title,
        status: e.status,
        detail: e.message,
        code: e.code,
        ...e.extra,
        // With tracing on: the trace to open for this answer.
        ...traceIdOf(),
      }),
    );
};
