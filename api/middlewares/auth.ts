import type { Request, RequestHandler } from 'express';
import type { Logger } from '../../shared/logger.js';
import { ForbiddenError, UnauthenticatedError } from '../../shared/errors.js';
import { verifyAccessToken, type Identity } from '../../shared/auth/tokens.js';
import { memberExists } from '../../shared/auth/identity.service.js';
import type { RateLimiter } from './rate-limit.js';

declare module 'express-serve-static-core' {
  interface Request {
    identity?: Identity;
    log?: Logger;
  }
}

export function bearerToken(req: Request): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

/** Any valid token of an existing member; counts against the member's rate limit. */
export function requireMember(secret: string, limiter: RateLimiter): RequestHandler {
  return async (req, _res, next) => {
    const token = bearerToken(req);
    const identity = token ? await verifyAccessToken(secret, token) : undefined;
    if (!identity || !(await memberExists(identity.memberId))) throw new UnauthenticatedError();
    await limiter.take(`m:${identity.memberId}`);
    req.identity = identity;
    next();
  };
}

export const requireAdmin: RequestHandler = (req, _res, next) => {
  if (req.identity?.role !== 'ADMIN') throw new ForbiddenError('Only an ADMIN may do this.');
  next();
};

/** The identity put there by requireMember. */
export function who(req: Request): Identity {
  if (!req.identity) throw new UnauthenticatedError();
  return req.identity;
}
