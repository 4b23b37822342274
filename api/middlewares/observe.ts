import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Logger } from '../../shared/logger.js';
import { httpRequestDuration } from '../../shared/metrics.js';
import { tracing } from '../../shared/tracing/tracing.js';

/**
 * A bounded set of route labels: the route template of our routes, one label per mounted UI
 * (bull-board, the API docs) whatever its inner paths, `static` for the web client's files.
 */
export function routeLabel(req: Request, status: number): string {
  const url = req.originalUrl;
  for (const ui of ['/admin/queues', '/docs'])
    if (url === ui || url.startsWith(`${ui}/`) || url.startsWith(`${ui}?`)) return ui;
  const path: unknown = req.route?.path;
  // Express has reset req.baseUrl by now; every routed path of ours lives under /api.
  if (typeof path === 'string')
    return `${url.startsWith('/api/') && !path.startsWith('/api/') ? '/api' : ''}${path}`;
  if (status === 404 || url.startsWith('/api/')) return 'unmatched';
  return req.method === 'GET' || req.method === 'HEAD' ? 'static' : 'unmatched';
}

/**
 * A request id, a child logger and the latency histogram labelled by route template. Cheap enough
 * for the waiting line's reads (thousands a second): the id is this process's random prefix and a
 * counter, and the child logger is made only when something logs.
 */
export function observe(logger: Logger): RequestHandler {
  const prefix = randomBytes(6).toString('hex');
  let counter = 0;
  const logDebug = logger.isLevelEnabled('debug');
  const traces = tracing();
  return (req, res, next) => {
    // Tracing on: the request's trace, read while its span is active (the finish event may not be).
    const traceId = logDebug ? traces?.traceId() : undefined;
    const id =
      (typeof req.headers['x-request-id'] === 'string' && req.headers['x-request-id'].slice(0, 64)) ||
      `${prefix}-${(++counter).toString(36)}`;
    res.setHeader('X-Request-Id', id);
    let child: Logger | undefined;
    Object.defineProperty(req, 'log', {
      configurable: true,
      enumerable: true,
      get: () => (child ??= logger.child({ reqId: id })),
      set: (l: Logger) => (child = l),
    });
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      // An event stream's duration is its connection's lifetime, not a latency.
      if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
      const route = routeLabel(req, res.statusCode);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      if (logDebug)
        req.log?.debug(
          {
            method: req.method,
            url: req.originalUrl.replace(/access_token=[^&]*/, 'access_token=[redacted]'),
            status: res.statusCode,
            ms: seconds * 1000,
            ...(traceId && { traceId }),
          },
          'request',
        );
    });
    next();
  };
}
