import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Role } from '../db/models/index.js';

export type Identity = { memberId: number; role: Role };

// One imported key per secret: importing on every verification costs more than the HMAC itself.
const keys = new Map<string, Promise<CryptoKey>>();
function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
    keys.set(secret, key);
  }
  return key;
}

export async function signAccessToken(
  secret: string,
  identity: Identity,
  ttlSeconds: number,
): Promise<string> {
  return new SignJWT({ role: identity.role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(String(identity.memberId))
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(await keyFor(secret));
}

/**
 * The longest lifetime a token may claim: 7 days, the most JWT_TTL_SECONDS allows. A token whose
 * `exp` lies further ahead than this (from now, or from its `iat`) is refused, however it was signed.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 7 * 86400;
/** Clocks differ a little: an `iat` (or `nbf`) up to this far in the future is still accepted. */
export const CLOCK_SKEW_SECONDS = 60;

/** The longest token accepted: ours are about 200 characters; anything far longer is abuse. */
export const MAX_TOKEN_LENGTH = 1024;

// A compact JWS of HS256 in its one canonical spelling: three base64url parts, no padding or
// whitespace, and a 43-character signature whose last character carries no stray bits (32 bytes
// are 256 of the 258 bits of 43 characters). Decoders accept the other spellings of the same
// signature, so without this one valid token would be any number of distinct cache keys.
const CANONICAL = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/** True for a token string in the only form this service issues and accepts. */
export function isCanonicalToken(token: string): boolean {
  return token.length <= MAX_TOKEN_LENGTH && CANONICAL.test(token);
}

// Pollers send the same token every few seconds: a verified token is remembered until it expires,
// so the signature is checked once per token and process, not once per request. The cache is
// bounded by the characters it holds (oldest entries go first), whatever tokens arrive.
const verified = new Map<string, { identity: Identity; exp: number; secret: string }>();
let cacheLimitChars = 32 * 1024 * 1024;
let cachedChars = 0;

/** What the verified-token cache holds (tests and diagnostics). */
export function verifiedTokenCache(): { entries: number; chars: number; limitChars: number } {
  return { entries: verified.size, chars: cachedChars, limitChars: cacheLimitChars };
}

/** Tests only: a small limit shows the eviction without minting millions of tokens. */
export function setVerifiedTokenCacheLimit(chars: number): void {
  cacheLimitChars = chars;
  evict();
}

function forget(token: string): void {
  if (verified.delete(token)) cachedChars -= token.length;
}

function evict(): void {
  for (const oldest of verified.keys()) {
    if (cachedChars <= cacheLimitChars) break;
    forget(oldest);
  }
}

/** Returns the identity of a valid token, or undefined for a missing, bad, non-canonical or expired one. */
export async function verifyAccessToken(secret: string, token: string): Promise<Identity | undefined> {
  if (!isCanonicalToken(token)) return undefined;
  const hit = verified.get(token);
  if (hit && hit.secret === secret) {
    if (hit.exp * 1000 > Date.now()) return hit.identity;
    forget(token);
  }
  const identity = await verifyUncached(secret, token);
  if (!identity) return undefined;
  const clean = { memberId: identity.memberId, role: identity.role };
  forget(token);
  verified.set(token, { identity: clean, exp: identity.exp, secret });
  cachedChars += token.length;
  evict();
  return clean;
}

/**
 * HS256 checked with node:crypto's HMAC, synchronously: jose goes through WebCrypto, whose every
 * verification is a job on the libuv thread pool (a crowd's first requests, thousands a second,
 * queued behind each other there). The claims are checked as jose checks them.
 */
async function verifyUncached(
  secret: string,
  token: string,
): Promise<(Identity & { exp: number }) | undefined> {
  const [h, p, sig] = token.split('.');
  if (!h || !p || !sig) return undefined;
  const expected = createHmac('sha256', secret).update(`${h}.${p}`).digest();
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  try {
    const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (header['alg'] !== 'HS256' || 'crit' in header || 'b64' in header) return undefined;
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    const now = Math.floor(Date.now() / 1000);
    const { exp, nbf, iat, sub, role } = payload;
    if (typeof exp !== 'number' || !Number.isFinite(exp) || exp <= now) return undefined;
    if (exp - now > MAX_TOKEN_LIFETIME_SECONDS) return undefined;
    if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + CLOCK_SKEW_SECONDS)) return undefined;
    if (iat !== undefined) {
      if (typeof iat !== 'number' || !Number.isFinite(iat) || iat > now + CLOCK_SKEW_SECONDS)
        return undefined;
      if (exp - iat > MAX_TOKEN_LIFETIME_SECONDS) return undefined;
    }
    if (typeof sub !== 'string' || !/^[1-9]\d{0,15}$/.test(sub) || (role !== 'USER' && role !== 'ADMIN'))
      return undefined;
    return { memberId: Number(sub), role, exp };
  } catch {
    return undefined;
  }
}
