import test from 'ava';
import { SignJWT } from 'jose';
import { Stack, eventually } from './helpers/stack.js';
import { HoldRequest, Performance } from '../shared/db/models/index.js';
import { performanceBody } from '../shared/testing/seed.js';
import {
  MAX_TOKEN_LENGTH,
  setVerifiedTokenCacheLimit,
  signAccessToken,
  verifiedTokenCache,
} from '../shared/auth/tokens.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 1 });
});
test.after.always(async () => stack?.close());

/** Spellings of one signature that lenient decoders read as the same bytes. */
function respellings(token: string): Record<string, string> {
  const [h, p, sig] = token.split('.') as [string, string, string];
  const last = sig.charCodeAt(42);
  return {
    'padding appended': `${token}=`,
    'a space inside the signature': `${h}.${p}.${sig.slice(0, 10)} ${sig.slice(10)}`,
    'a tab inside the signature': `${h}.${p}.${sig.slice(0, 20)}\t${sig.slice(20)}`,
    'stray bits in the last character': `${h}.${p}.${sig.slice(0, 42)}${String.fromCharCode(last + 1)}`,
  };
}

test.serial(
  'when a valid token is respelled with padding, whitespace or stray bits, then it is refused and not cached',
  async (t) => {
    const [m] = await stack.members(1);
    t.is((await stack.http('GET', '/api/me/holds', { token: m!.token })).status, 200, 'canonical token');
    const admin = await stack.admin();
    t.is(
      (await stack.http('GET', '/admin/queues/api/queues', { token: admin })).status,
      200,
      'the admin token itself works',
    );
    const before = verifiedTokenCache().entries;
    for (const [name, token] of Object.entries(respellings(m!.token))) {
      const r = await stack.http('GET', '/api/me/holds', {
        headers: { authorization: `Bearer ${token}` },
      });
      t.is(r.status, 401, name);
      t.is(r.body['code'], 'unauthenticated', name);
    }
    for (const [name, token] of Object.entries(respellings(admin))) {
      const r = await stack.http('GET', '/admin/queues/api/queues', {
        headers: { authorization: `Bearer ${token}` },
      });
      t.not(r.status, 200, `admin board: ${name}`);
    }
    t.is(verifiedTokenCache().entries, before, 'respellings add no cache entries');
  },
);

test('when a validly signed token is longer than the bound, then it is refused', async (t) => {
  const [m] = await stack.members(1);
  const long = await new SignJWT({ role: 'USER', pad: 'x'.repeat(MAX_TOKEN_LENGTH) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(m!.id))
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(stack.config.jwtSecret));
  t.true(long.length > MAX_TOKEN_LENGTH);
  const r = await stack.http('GET', '/api/me/holds', { token: long });
  t.is(r.status, 401);
});

test.serial(
  'when many distinct valid tokens arrive, then the verified-token cache stays within its size bound',
  async (t) => {
    const [m] = await stack.members(1);
    const limit = 20_000;
    setVerifiedTokenCacheLimit(limit);
    try {
      for (let i = 0; i < 150; i++) {
        // Distinct lifetimes give distinct tokens of one member.
        const token = await signAccessToken(
          stack.config.jwtSecret,
          { memberId: m!.id, role: 'USER' },
          600 + i,
        );
        t.is((await stack.http('GET', '/api/me/holds', { token })).status, 200);
      }
      const cache = verifiedTokenCache();
      t.true(cache.chars <= limit, `cache holds ${cache.chars} characters`);
      t.true(cache.entries > 10, 'recent tokens are still cached');
    } finally {
      setVerifiedTokenCacheLimit(32 * 1024 * 1024);
    }
  },
);

test('when grade names differ only by case, then the performance is refused with 400 and nothing is created', async (t) => {
  const admin = await stack.admin();
  const body = performanceBody(3, { name: `case ${stack.config.keyPrefix}` });
  body.grades.push({ name: 'vip', price: 1 });
  const r = await stack.http<{ errors: { path: string }[] }>('POST', '/api/performances', {
    token: admin,
    body,
  });
  t.is(r.status, 400);
  t.is((r.body as unknown as Record<string, unknown>)['code'], 'validation-failed');
  t.deepEqual(
    r.body.errors.map((e) => e.path),
    ['grades.2.name'],
  );
  t.is(await Performance.count({ where: { name: body.name } }), 0);
});

test('when a showtime falls after year 9999 in UTC, then 400 and not 500', async (t) => {
  const admin = await stack.admin();
  const body = { ...performanceBody(2), showtime: '9999-12-31T23:00:00-05:00' };
  const r = await stack.http<{ errors: { path: string }[] }>('POST', '/api/performances', {
    token: admin,
    body,
  });
  t.is(r.status, 400);
  t.deepEqual(
    r.body.errors.map((e) => e.path),
    ['body.showtime'],
  );
});

test('when two Idempotency-Keys differ only by case, then they are two requests', async (t) => {
  const { performanceId, seatIds } = await stack.performance(4);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId);
  const path = `/api/performances/${performanceId}/holds`;
  const a = await stack.http<{ requestId: number }>('POST', path, {
    token: m!.token,
    body: { seatIds: [seatIds[0]] },
    headers: { 'Idempotency-Key': 'Key-A' },
  });
  const b = await stack.http<{ requestId: number }>('POST', path, {
    token: m!.token,
    body: { seatIds: [seatIds[1]] },
    headers: { 'Idempotency-Key': 'key-a' },
  });
  t.is(a.status, 202);
  t.is(b.status, 202);
  t.not(a.body.requestId, b.body.requestId);
  const again = await stack.http<{ requestId: number }>('POST', path, {
    token: m!.token,
    body: { seatIds: [seatIds[1]] },
    headers: { 'Idempotency-Key': 'key-a' },
  });
  t.is(again.body.requestId, b.body.requestId, 'the exact key still replays');
  t.is(await HoldRequest.count({ where: { performanceId } }), 2);
});

test('when the public performance list is requested many times at once, then the seats are aggregated once', async (t) => {
  await stack.performance(5);
  await stack.http('GET', '/api/performances');
  const before = stack.ctx.catalogue.listAggregations;
  const answers = await Promise.all(
    Array.from({ length: 40 }, () => stack.http<{ items: unknown[] }>('GET', '/api/performances')),
  );
  t.true(answers.every((r) => r.status === 200 && r.body.items.length > 0));
  t.true(stack.ctx.catalogue.listAggregations - before <= 1, 'at most one aggregation for 40 calls');
  // A new performance shows at once in the process that created it, and elsewhere within a second.
  const { performanceId } = await stack.performance(3);
  const listed = await eventually(async () => {
    const r = await stack.http<{ items: { id: number; seatCount: number }[] }>('GET', '/api/performances');
    return r.body.items.find((p) => p.id === performanceId);
  }, 3000);
  t.is(listed.seatCount, 3);
});
