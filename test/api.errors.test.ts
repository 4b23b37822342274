import test from 'ava';
import { SignJWT } from 'jose';
import { Stack } from './helpers/stack.js';
import { HoldRequest } from '../shared/db/models/index.js';
import { performanceBody } from '../shared/testing/seed.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 0 });
});
test.after.always(async () => stack?.close());

async function jobCount(performanceId: number): Promise<number> {
  const counts = await (
    await stack.ctx.queues.get(performanceId)
  ).getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

test('when clients send bad hold requests, then each gets its 4xx problem and nothing is enqueued', async (t) => {
  const { performanceId, seatIds } = await stack.performance(10);
  const other = await stack.performance(3);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId);
  const path = `/api/performances/${performanceId}/holds`;
  const cases: [
    string,
    { raw?: string; body?: unknown; path?: string; headers?: Record<string, string> },
    number,
    string,
  ][] = [
    ['malformed JSON', { raw: '{"seatIds": [1,' }, 400, 'malformed-json'],
    ['no body', { raw: '' }, 400, 'validation-failed'],
    ['seatIds missing', { body: {} }, 400, 'validation-failed'],
    ['seatIds not an array', { body: { seatIds: 'all' } }, 400, 'validation-failed'],
    ['seat ids as strings', { body: { seatIds: ['1'] } }, 400, 'validation-failed'],
    ['negative seat id', { body: { seatIds: [-1] } }, 400, 'validation-failed'],
    ['fractional seat id', { body: { seatIds: [1.5] } }, 400, 'validation-failed'],
    ['empty seat list', { body: { seatIds: [] } }, 400, 'validation-failed'],
    ['unknown seat id', { body: { seatIds: [987654321] } }, 400, 'validation-failed'],
    ['a seat of another performance', { body: { seatIds: [other.seatIds[0]] } }, 400, 'validation-failed'],
    ['duplicated seat ids', { body: { seatIds: [seatIds[0], seatIds[0]] } }, 400, 'validation-failed'],
    ['too many seats', { body: { seatIds: seatIds.slice(0, 5) } }, 400, 'validation-failed'],
    [
      'oversized body',
      { raw: JSON.stringify({ seatIds: [seatIds[0]], pad: 'x'.repeat(17 * 1024) }) },
      413,
      'payload-too-large',
    ],
    [
      'unknown performance',
      { body: { seatIds: [seatIds[0]] }, path: '/api/performances/987654321/holds' },
      404,
      'performance-not-found',
    ],
    [
      'a performance id that is not a number',
      { body: { seatIds: [seatIds[0]] }, path: '/api/performances/abc/holds' },
      400,
      'validation-failed',
    ],
    [
      'an Idempotency-Key that is too long',
      { body: { seatIds: [seatIds[0]] }, headers: { 'Idempotency-Key': 'k'.repeat(200) } },
      400,
      'validation-failed',
    ],
    ['a JSON array body', { raw: '[1,2]' }, 400, 'validation-failed'],
  ];
  for (const [name, req, status, code] of cases) {
    const r = await stack.http('POST', req.path ?? path, { token: m!.token, ...req });
    t.is(r.status, status, name);
    t.is(r.body['code'], code, name);
    t.is(r.body['status'], status, name);
    t.truthy(r.body['title'] && r.body['detail'], name);
    t.regex(r.headers.get('content-type') ?? '', /^application\/problem\+json/, name);
  }
  const invalid = await stack.http<{ errors: { path: string }[] }>('POST', path, {
    token: m!.token,
    body: { seatIds: [987654321] },
  });
  t.deepEqual(
    invalid.body.errors.map((e) => e.path),
    ['seatIds.0'],
    'validation errors name the field',
  );
  t.is(await HoldRequest.count({ where: { performanceId } }), 0, 'no request recorded');
  t.is(await jobCount(performanceId), 0, 'no job enqueued');
});

test('when identity is missing, wrong or foreign, then 401, 403 and 404 problems', async (t) => {
  const { performanceId, seatIds } = await stack.performance(5);
  const [a, b] = await stack.members(2);
  await stack.admit(a!.token, performanceId);
  const path = `/api/performances/${performanceId}/holds`;
  const body = { seatIds: [seatIds[0]] };
  t.is((await stack.http('POST', path, { body })).body['code'], 'unauthenticated');
  t.is((await stack.http('POST', path, { body, token: 'not-a-jwt' })).status, 401);
  const secret = new TextEncoder().encode(stack.config.jwtSecret);
  const expired = await new SignJWT({ role: 'USER' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(a!.id))
    .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
    .sign(secret);
  t.is((await stack.http('POST', path, { body, token: expired })).status, 401, 'expired token');
  const forged = await new SignJWT({ role: 'ADMIN' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(a!.id))
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode('another-secret-another-secret-another'));
  t.is(
    (await stack.http('POST', path, { body, token: forged })).status,
    401,
    'token signed with another secret',
  );
  t.is(
    (await stack.http('POST', path, { body, token: await stack.token(987654321) })).status,
    401,
    'no such member',
  );
  const noExp = await new SignJWT({ role: 'USER' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(String(a!.id))
    .sign(secret);
  t.is((await stack.http('POST', path, { body, token: noExp })).status, 401, 'token without exp');

  const created = await stack.http('POST', '/api/performances', {
    token: a!.token,
    body: performanceBody(2),
  });
  t.is(created.status, 403);
  t.is(created.body['code'], 'forbidden');

  const mine = await stack.http<{ requestId: number }>('POST', path, { body, token: a!.token });
  t.is(mine.status, 202);
  const theirs = await stack.http('GET', `/api/requests/${mine.body.requestId}`, { token: b!.token });
  t.is(theirs.status, 404, "another member's request is not found");
  t.is(
    (await stack.http('GET', `/api/requests/${mine.body.requestId}?waitSeconds=99`, { token: a!.token }))
      .status,
    400,
  );
  t.is(
    (await stack.http('POST', `/api/performances/${performanceId}/holds`, { body, token: b!.token })).body[
      'code'
    ],
    'not-admitted',
  );
  t.is((await stack.http('GET', '/api/nothing-here')).body['code'], 'not-found');
  t.is(await HoldRequest.count({ where: { performanceId } }), 1, 'only the valid request was recorded');
});

test('when an admin creates a performance, then it is listed with its seats and bad bodies are refused', async (t) => {
  const admin = await stack.admin();
  const body = performanceBody(150, { name: 'Catalogue test', admissionCapacity: 7 });
  const created = await stack.http<{ id: number }>('POST', '/api/performances', { token: admin, body });
  t.is(created.status, 201);
  const got = await stack.http('GET', `/api/performances/${created.body.id}`);
  t.like(got.body, { id: created.body.id, name: 'Catalogue test', admissionCapacity: 7 });
  t.is((got.body['zones'] as unknown[]).length, 2);
  const list = await stack.http<{ items: { id: number; seatCount: number; availableCount: number }[] }>(
    'GET',
    '/api/performances',
  );
  t.like(
    list.body.items.find((p) => p.id === created.body.id),
    { seatCount: 150, availableCount: 150 },
  );
  t.is((await stack.http('GET', '/api/performances/987654321')).body['code'], 'performance-not-found');

  const bad = structuredClone(body);
  bad.zones[0]!.rows![0]!.grade = 'Nope';
  bad.zones[1]!.seats = [{ code: 'B-3', grade: 'R' }]; // row B of zone B already has B-3
  const refused = await stack.http<{ errors: { path: string }[] }>('POST', '/api/performances', {
    token: admin,
    body: bad,
  });
  t.is(refused.status, 400);
  t.deepEqual(refused.body.errors.map((e) => e.path).sort(), [
    'zones.0.rows.0.grade',
    'zones.1.seats.0.code',
  ]);
  for (const broken of [
    { ...body, showtime: 'tomorrow' },
    { ...body, grades: [] },
    { ...body, name: 5 },
  ]) {
    t.is((await stack.http('POST', '/api/performances', { token: admin, body: broken })).status, 400);
  }
});

test('when members sign up and log in, then duplicates and wrong passwords are refused', async (t) => {
  const email = `someone-${stack.config.keyPrefix}@example.com`;
  t.is((await stack.http('POST', '/api/members', { body: { email, password: 'long-enough' } })).status, 201);
  t.is(
    (await stack.http('POST', '/api/members', { body: { email, password: 'long-enough' } })).body['code'],
    'email-taken',
  );
  t.is(
    (await stack.http('POST', '/api/members', { body: { email: 'x', password: 'long-enough' } })).status,
    400,
  );
  t.is(
    (await stack.http('POST', '/api/members', { body: { email: `b${email}`, password: 'short' } })).status,
    400,
  );
  const ok = await stack.http<{ accessToken: string; memberId: number; expiresIn: number }>(
    'POST',
    '/api/login',
    {
      body: { email, password: 'long-enough' },
    },
  );
  t.is(ok.status, 200);
  t.true(ok.body.expiresIn > 0);
  t.is((await stack.http('GET', '/api/me/holds', { token: ok.body.accessToken })).status, 200);
  t.is(
    (await stack.http('POST', '/api/login', { body: { email, password: 'wrong-password' } })).body['code'],
    'invalid-credentials',
  );
  t.is(
    (await stack.http('POST', '/api/login', { body: { email: `nobody${email}`, password: 'x' } })).status,
    401,
  );
});
