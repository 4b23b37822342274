import type { Request, RequestHandler } from 'express';
import type { Logger } from '../../shared/logger.js';
import { ForbiddenError, UnauthenticatedError } from '../../shared/errors.js';
import { verifyAccessToken, type Identity } from '../../shared/auth/tokens.js';
import { isAdmin, memberExists } from '../../shared/auth/identity.service.js';
import type { RateLimiter } from './rate-limit.js';

declare module 'express-serve-static-core' {
  interface Request {
    identity?: Identity;
    log?: Logger;
  }
}

/** The token of `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 9110 §11.1). */
export function bearerToken(req: Request): string | undefined {
  const m = /^bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
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

/** ADMIN in the token and in MySQL (a demoted admin is refused within a few seconds). */
export const requireAdmin: RequestHandler = async (req, _res, next) => {
  if (!(await isAdmin(req.identity))) throw new ForbiddenError('Only an ADMIN may do this.');
  next();
};

/** The identity put there by requireMember. */
export function who(req: Request): Identity {
  if (!req.identity) throw new UnauthenticatedError();
  return req.identity;
}
