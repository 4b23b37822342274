import { QueryTypes, UniqueConstraintError } from 'sequelize';
import type { Config } from '../config.js';
import { ConflictError, InvalidCredentialsError } from '../errors.js';
import { Member, type Role } from '../db/models/index.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { signAccessToken, type Identity } from './tokens.js';

export async function registerMember(
  email: string,
  password: string,
  role: Role = 'USER',
): Promise<{ memberId: number }> {
  try {
    const m = await Member.create({
      email: email.toLowerCase(),
      passwordHash: await hashPassword(password),
      role,
    });
    return { memberId: m.id };
  } catch (err) {
    if (err instanceof UniqueConstraintError)
      throw new ConflictError('email-taken', 'That email is already registered.');
    throw err;
  }
}

// A fixed hash so that an unknown email costs as much as a wrong password.
let dummyHash: Promise<string> | undefined;

export async function login(config: Config, email: string, password: string) {
  const m = await Member.findOne({ where: { email: email.toLowerCase() } });
  if (!m) {
    dummyHash ??= hashPassword('not-a-real-password');
    await verifyPassword(password, await dummyHash);
    throw new InvalidCredentialsError();
  }
  if (!(await verifyPassword(password, m.passwordHash))) throw new InvalidCredentialsError();
  const accessToken = await signAccessToken(
    config.jwtSecret,
    { memberId: m.id, role: m.role },
    config.jwtTtlSeconds,
  );
  return { memberId: m.id, accessToken, expiresIn: config.jwtTtlSeconds };
}

export class AdminEmailTakenError extends Error {
  override name = 'AdminEmailTakenError';
}

/**
 * The bootstrap admin from ADMIN_EMAIL/ADMIN_PASSWORD: created once with that password, which it
 * keeps in step with ADMIN_PASSWORD (a changed password replaces the old one). An account of that
 * email that is not an ADMIN is never promoted: anybody could have signed up with the address
 * before it became the admin's, so the process refuses to start instead.
 */
export async function ensureAdmin(config: Config): Promise<number> {
  const email = config.adminEmail.toLowerCase();
  const existing = await Member.findOne({ where: { email } });
  if (existing) {
    if (existing.role !== 'ADMIN')
      throw new AdminEmailTakenError(
        `ADMIN_EMAIL ${email} belongs to member ${existing.id}, who is not an ADMIN; it is not promoted. ` +
          'Choose another ADMIN_EMAIL.',
      );
    if (!(await verifyPassword(config.adminPassword, existing.passwordHash)))
      await existing.update({ passwordHash: await hashPassword(config.adminPassword) });
    return existing.id;
  }
  try {
    return (await registerMember(email, config.adminPassword, 'ADMIN')).memberId;
  } catch (err) {
    if (err instanceof ConflictError) return (await Member.findOne({ where: { email } }))!.id;
    throw err;
  }
}

const known = new Set<number>();
type Waiter = { resolve: (exists: boolean) => void; reject: (err: unknown) => void };
let batch: Map<number, Waiter[]> | undefined;

/**
 * Members are never deleted, so a positive answer is cached for the life of the process. Lookups
 * that arrive together (a crowd's first requests) share one query.
 */
export function memberExists(memberId: number): Promise<boolean> {
  if (known.has(memberId)) return Promise.resolve(true);
  return new Promise<boolean>((resolve, reject) => {
    if (!batch) {
      const current = new Map<number, Waiter[]>();
      batch = current;
      setImmediate(() => {
        batch = undefined;
        void lookUp(current);
      });
    }
    const waiters = batch.get(memberId) ?? [];
    waiters.push({ resolve, reject });
    batch.set(memberId, waiters);
  });
}

async function lookUp(pending: Map<number, Waiter[]>): Promise<void> {
  try {
    const rows = await Member.sequelize!.query<{ id: number }>('SELECT id FROM members WHERE id IN (?)', {
      type: QueryTypes.SELECT,
      replacements: [[...pending.keys()]],
    });
    if (known.size > 1_000_000) known.clear();
    for (const r of rows) known.add(Number(r.id));
    for (const [id, waiters] of pending) for (const w of waiters) w.resolve(known.has(id));
  } catch (err) {
    for (const waiters of pending.values()) for (const w of waiters) w.reject(err);
  }
}

/** How long a member's role read from MySQL is trusted: a demoted ADMIN loses its rights within this. */
export const ROLE_CACHE_MS = 5000;
const roles = new Map<number, { role: Promise<Role | undefined>; at: number }>();

/** The member's role in MySQL (cached up to ROLE_CACHE_MS); undefined for no such member. */
export function memberRole(memberId: number): Promise<Role | undefined> {
  const now = Date.now();
  const hit = roles.get(memberId);
  if (hit && now - hit.at < ROLE_CACHE_MS) return hit.role;
  if (roles.size > 10_000) roles.clear(); // admins are few; a flood of ids must not grow it
  const role = Member.findByPk(memberId, { attributes: ['id', 'role'] }).then((m) => m?.role);
  roles.set(memberId, { role, at: now });
  role.catch(() => roles.delete(memberId));
  return role;
}

/** ADMIN in the token and, still, in MySQL: a token outlives a demotion by at most ROLE_CACHE_MS. */
export async function isAdmin(identity: Identity | undefined): Promise<boolean> {
  return identity?.role === 'ADMIN' && (await memberRole(identity.memberId)) === 'ADMIN';
}
