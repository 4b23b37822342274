import { SignJWT, jwtVerify } from 'jose';
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

// Pollers send the same token every few seconds: a verified token is remembered until it expires,
// so the signature is checked once per token and process, not once per request.
const verified = new Map<string, { identity: Identity; exp: number; secret: string }>();
const MAX_REMEMBERED = 200_000;

/** Returns the identity of a valid token, or undefined for a missing, bad or expired one. */
export async function verifyAccessToken(secret: string, token: string): Promise<Identity | undefined> {
  const hit = verified.get(token);
  if (hit && hit.secret === secret) {
    if (hit.exp * 1000 > Date.now()) return hit.identity;
    verified.delete(token);
  }
  const identity = await verifyUncached(secret, token);
  if (!identity) return undefined;
  const clean = { memberId: identity.memberId, role: identity.role };
  if (verified.size >= MAX_REMEMBERED) verified.clear();
  verified.set(token, { identity: clean, exp: identity.exp, secret });
  return clean;
}

async function verifyUncached(
  secret: string,
  token: string,
): Promise<(Identity & { exp: number }) | undefined> {
  try {
    const { payload } = await jwtVerify(token, await keyFor(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
    });
    const memberId = Number(payload.sub);
    const role = payload['role'];
    if (!/^[1-9]\d{0,15}$/.test(payload.sub ?? '') || (role !== 'USER' && role !== 'ADMIN')) return undefined;
    return { memberId, role, exp: payload.exp! };
  } catch {
    return undefined;
  }
}
