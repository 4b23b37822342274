import { SignJWT, jwtVerify } from 'jose';
import type { Role } from '../db/models/index.js';

export type Identity = { memberId: number; role: Role };

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
    .sign(new TextEncoder().encode(secret));
}

/** Returns the identity of a valid token, or undefined for a missing, bad or expired one. */
export async function verifyAccessToken(secret: string, token: string): Promise<Identity | undefined> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
    });
    const memberId = Number(payload.sub);
    const role = payload['role'];
    if (!/^[1-9]\d{0,15}$/.test(payload.sub ?? '') || (role !== 'USER' && role !== 'ADMIN')) return undefined;
    return { memberId, role };
  } catch {
    return undefined;
  }
}
