import type { RequestHandler } from 'express';
import { AppError, NotFoundError, ValidationError } from '../../shared/errors.js';

/** A documented path: its template (`/api/performances/{id}`), methods and whether any takes a body. */
export type DocumentedPath = { path: string; methods: string[]; bodies: string[] };

/** `Allow` for a path: its methods, HEAD wherever GET is, and OPTIONS. */
export function allowOf(methods: readonly string[]): string {
  const all = new Set(methods.map((m) => m.toUpperCase()));
  if (all.has('GET')) all.add('HEAD');
  all.add('OPTIONS');
  return [...all].sort().join(', ');
}

function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length'];
  return headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * The doors of the documented paths (contract §2), before any route runs: OPTIONS answers `Allow`;
 * a method the path does not take is 405 with `Allow`; a body that is not JSON is 415; a body sent
 * where the operation takes none may be `{}` and nothing else (unknown fields are 400 everywhere).
 * An unknown path under /api is 404 at once. The table is the OpenAPI document's, so `Allow` and
 * the document cannot disagree.
 */
export function doors(
  paths: readonly DocumentedPath[],
  opts: { jsonTypes: string[]; readJson: RequestHandler },
): RequestHandler {
  const table = paths.map((p) => ({
    ...p,
    allow: allowOf(p.methods),
    re: new RegExp(`^${p.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}/?$`, 'i'), // as express matches
  }));
  return (req, res, next) => {
    const here = table.find((t) => t.re.test(req.path));
    // Every route under /api is documented (test/api-docs.test.ts): any other path there is 404
    // before a body is read or a token checked.
    if (!here && (req.path === '/api' || req.path.startsWith('/api/')))
      throw new NotFoundError('not-found', `No route for ${req.method} ${req.path}.`);
    if (!here) return next();
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    if (req.method === 'OPTIONS') {
      res.setHeader('Allow', here.allow);
      return void res.status(204).end();
    }
    if (!here.methods.includes(method)) {
      res.setHeader('Allow', here.allow);
      throw new AppError(
        405,
        'method-not-allowed',
        'Method not allowed',
        `${req.path} does not take ${req.method}; see Allow.`,
      );
    }
    if (!here.path.startsWith('/api/') || !hasBody(req.headers)) return next();
    if (!req.is(opts.jsonTypes))
      throw new AppError(415, 'unsupported-media-type', 'Unsupported media type', 'Send application/json.');
    if (here.bodies.includes(method)) return next();
    // This operation takes no body: read it (at most the small limit) and refuse any field.
    opts.readJson(req, res, (err?: unknown) => {
      if (err) return next(err);
      const body: unknown = req.body;
      if (body === undefined || (isPlainObject(body) && Object.keys(body).length === 0)) return next();
      const fields = isPlainObject(body) ? Object.keys(body) : [];
      next(
        new ValidationError(
          fields.length
            ? fields.map((f) => ({
                path: `body.${f}`,
                message: 'unknown field: this operation takes no body',
              }))
            : [{ path: 'body', message: 'this operation takes no body' }],
        ),
      );
    });
  };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
