import test from 'ava';
import { SignJWT } from 'jose';
import { Stack } from './helpers/stack.js';
import { disagreement } from './helpers/openapi-check.js';
import { performanceBody } from '../shared/testing/seed.js';
import { Member, Performance } from '../shared/db/models/index.js';
import { ROLE_CACHE_MS } from '../shared/auth/identity.service.js';
import { openApiDocument } from '../api/openapi/openapi.js';

// The doors of contract §2: media types, methods, unknown fields, the times a sale accepts, tokens.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 0 });
});
test.after.always(async () => stack?.close());

const inDays = (days: number) => new Date(Date.now() + days * 86400_000).toISOString();

async function countByName(name: string): Promise<number> {
  return Performance.count({ where: { name } });
}

test('when a body is not application/json, then the answer is 415 on routes with and without a body', async (t) => {
  const { performanceId } = await stack.performance(2);
  const [m] = await stack.members(1);
  const admin = await stack.admin();
  const cases: [string, string, string | undefined][] = [
    ['POST', '/api/members', undefined],
    ['POST', '/api/login', undefined],
    ['POST', '/api/performances', admin],
    ['PATCH', `/api/performances/${performanceId}`, admin],
    ['POST', `/api/performances/${performanceId}/waiting`, m!.token],
  ];
  for (const [method, path, token] of cases) {
    const r = await stack.http(method, path, {
      ...(token ? { token } : {}),
      raw: '{"email":"a@example.com","password":"long-enough-1"}',
      headers: { 'content-type': 'text/plain' },
    });
    t.is(r.status, 415, `${method} ${path}`);
    t.is(r.body['code'], 'unsupported-media-type', `${method} ${path}`);
  }
});

test('when a known path is asked with a method it does not take, then 405 names the methods in Allow', async (t) => {
  for (const [method, path, allow] of [
    ['PUT', '/api/performances/1', 'GET, HEAD, OPTIONS, PATCH'],
    ['DELETE', '/api/performances', 'GET, HEAD, OPTIONS, POST'],
    ['GET', '/api/login', 'OPTIONS, POST'],
    ['POST', '/healthz', 'GET, HEAD, OPTIONS'],
  ] as const) {
    const r = await stack.http(method, path);
    t.is(r.status, 405, `${method} ${path}`);
    t.is(r.body['code'], 'method-not-allowed');
    t.is(r.headers.get('allow'), allow, `${method} ${path}`);
  }
  // An unknown path is still 404.
  t.is((await stack.http('PUT', '/api/no-such-thing')).status, 404);
});

test('when OPTIONS is asked, then Allow lists every method of the path, across routers', async (t) => {
  const one = await stack.http('OPTIONS', '/api/performances/1');
  t.is(one.status, 204);
  t.is(one.headers.get('allow'), 'GET, HEAD, OPTIONS, PATCH');
  const waiting = await stack.http('OPTIONS', '/api/performances/1/waiting');
  t.is(waiting.headers.get('allow'), 'DELETE, GET, HEAD, OPTIONS, POST');
});

test('when a body carries a field the operation does not take, then it is 400 on every route and nothing is created', async (t) => {
  const admin = await stack.admin();
  const name = `unknown-field ${stack.config.keyPrefix}`;
  const created = await stack.http<{ errors: { path: string; message: string }[] }>(
    'POST',
    '/api/performances',
    { token: admin, body: { ...performanceBody(2, { name }), admisionCapacity: 5 } },
  );
  t.is(created.status, 400);
  t.true(
    created.body.errors.some((e) => e.path === 'body' && /admisionCapacity/.test(e.message)),
    JSON.stringify(created.body.errors),
  );
  const nested = performanceBody(2, { name });
  (nested.zones[0] as Record<string, unknown>)['colour'] = 'red';
  t.is((await stack.http('POST', '/api/performances', { token: admin, body: nested })).status, 400);
  t.is(await countByName(name), 0, 'nothing created');

  const { performanceId } = await stack.performance(2);
  const [m] = await stack.members(1);
  const cases: [string, string, unknown, string | undefined][] = [
    ['POST', '/api/members', { email: 'x@example.com', password: 'long-enough-1', admin: true }, undefined],
    ['POST', '/api/login', { email: 'x@example.com', password: 'long-enough-1', remember: true }, undefined],
    ['PATCH', `/api/performances/${performanceId}`, { admissionPaused: true, pausd: true }, admin],
    ['POST', `/api/performances/${performanceId}/waiting`, { priority: 1 }, m!.token],
    ['DELETE', `/api/performances/${performanceId}/waiting`, { now: true }, m!.token],
    ['POST', '/api/holds/1/confirm', { payment: { method: 'card', token: 'tok', amount: 1 } }, m!.token],
  ];
  for (const [method, path, body, token] of cases) {
    const r = await stack.http(method, path, { body, ...(token ? { token } : {}) });
    t.is(r.status, 400, `${method} ${path}`);
    t.is(r.body['code'], 'validation-failed', `${method} ${path}`);
  }
  t.is(await Member.count({ where: { email: 'x@example.com' } }), 0);
  t.false((await Performance.findByPk(performanceId))!.admissionPaused, 'the PATCH changed nothing');
  // An empty object where no body is taken is harmless.
  t.is(
    (await stack.http('POST', `/api/performances/${performanceId}/waiting`, { token: m!.token, body: {} }))
      .status,
    200,
  );
});

test('when the document describes request bodies, then every object in them refuses unknown fields', (t) => {
  const doc = openApiDocument() as {
    paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: unknown }> } }>>;
  };
  let objects = 0;
  const walk = (s: unknown, at: string): void => {
    if (Array.isArray(s)) return s.forEach((x, i) => walk(x, `${at}/${i}`));
    if (typeof s !== 'object' || s === null) return;
    const o = s as Record<string, unknown>;
    if (o['type'] === 'object') {
      objects++;
      t.is(o['additionalProperties'], false, `${at} refuses unknown fields`);
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${at}/${k}`);
  };
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops))
      if (op.requestBody)
        walk(op.requestBody.content['application/json']!.schema, `${method.toUpperCase()} ${path}`);
  t.true(objects >= 10, `${objects} objects checked`);
});

test('when a sale time falls outside the years 1000 to 9999 in UTC, then POST and PATCH answer 400 and store nothing', async (t) => {
  const admin = await stack.admin();
  const name = `years ${stack.config.keyPrefix}`;
  const { performanceId } = await stack.performance(2);
  const before = (await Performance.findByPk(performanceId))!.salesOpenAt;
  for (const time of [
    '9999-12-31T23:00:00-05:00', // year 10000 in UTC
    '0999-06-01T00:00:00Z',
    '0500-01-01T00:00:00Z',
    '1000-01-01T00:30:00+01:00', // year 999 in UTC
  ]) {
    const post = await stack.http('POST', '/api/performances', {
      token: admin,
      body: { ...performanceBody(2, { name }), showtime: inDays(30), salesOpenAt: time },
    });
    t.is(post.status, 400, `POST salesOpenAt ${time}`);
    const showtime = await stack.http('POST', '/api/performances', {
      token: admin,
      body: { ...performanceBody(2, { name }), showtime: time },
    });
    t.is(showtime.status, 400, `POST showtime ${time}`);
    const patch = await stack.http('PATCH', `/api/performances/${performanceId}`, {
      token: admin,
      body: { salesOpenAt: time },
    });
    t.is(patch.status, 400, `PATCH salesOpenAt ${time}`);
    t.is(patch.body['code'], 'validation-failed');
  }
  t.is(await countByName(name), 0);
  t.deepEqual((await Performance.findByPk(performanceId))!.salesOpenAt, before);
  // The edges are accepted and read back as written.
  const edge = await stack.http('PATCH', `/api/performances/${performanceId}`, {
    token: admin,
    body: { salesOpenAt: '1000-01-01T00:00:00.000Z' },
  });
  t.is(edge.status, 200);
  t.is(edge.body['salesOpenAt'], '1000-01-01T00:00:00.000Z');
});

test('when salesOpenAt is not before the showtime, then POST and PATCH answer 400 and store nothing', async (t) => {
  const admin = await stack.admin();
  const name = `late-opening ${stack.config.keyPrefix}`;
  const showtime = inDays(10);
  for (const salesOpenAt of [inDays(11), showtime]) {
    const r = await stack.http<{ errors: { path: string }[] }>('POST', '/api/performances', {
      token: admin,
      body: { ...performanceBody(2, { name }), showtime, salesOpenAt },
    });
    t.is(r.status, 400);
    t.deepEqual(
      r.body.errors.map((e) => e.path),
      ['body.salesOpenAt'],
    );
  }
  t.is(await countByName(name), 0);
  const ok = await stack.http('POST', '/api/performances', {
    token: admin,
    body: { ...performanceBody(2, { name }), showtime, salesOpenAt: inDays(9) },
  });
  t.is(ok.status, 201);
  const id = ok.body['id'] as number;
  // PATCH compares with the stored showtime.
  const late = await stack.http('PATCH', `/api/performances/${id}`, {
    token: admin,
    body: { salesOpenAt: inDays(10.5) },
  });
  t.is(late.status, 400);
  t.is(late.body['code'], 'validation-failed');
  const stored = (await Performance.findByPk(id))!.salesOpenAt!.getTime();
  t.true(Math.abs(stored - Date.parse(inDays(9))) < 60_000, 'the opening is unchanged');
  t.is(
    (await stack.http('PATCH', `/api/performances/${id}`, { token: admin, body: { salesOpenAt: inDays(8) } }))
      .status,
    200,
  );
});

async function mint(
  memberId: number,
  role: 'USER' | 'ADMIN',
  claims: { exp: number; iat?: number; nbf?: number },
): Promise<string> {
  const jwt = new SignJWT({ role }).setProtectedHeader({ alg: 'HS256' }).setSubject(String(memberId));
  jwt.setExpirationTime(claims.exp);
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
  return jwt.sign(new TextEncoder().encode(stack.config.jwtSecret));
}

test('when a token claims a lifetime beyond the cap or an iat in the future, then it is 401', async (t) => {
  const [m] = await stack.members(1);
  const now = Math.floor(Date.now() / 1000);
  const get = (token: string) => stack.http('GET', '/api/me/holds', { token });
  const refused = {
    '30,000 years ahead': await mint(m!.id, 'USER', { exp: now + 30_000 * 365 * 86400 }),
    '8 days ahead': await mint(m!.id, 'USER', { exp: now + 8 * 86400, iat: now }),
    'iat a day in the future': await mint(m!.id, 'USER', { exp: now + 3600, iat: now + 86400 }),
    'iat 5 minutes in the future': await mint(m!.id, 'USER', { exp: now + 3600, iat: now + 300 }),
  };
  for (const [what, token] of Object.entries(refused)) {
    const r = await get(token);
    t.is(r.status, 401, what);
    t.is(r.body['code'], 'unauthenticated', what);
  }
  const accepted = {
    '7 days ahead': await mint(m!.id, 'USER', { exp: now + 7 * 86400 - 60, iat: now }),
    'iat 30 s ahead (clock skew)': await mint(m!.id, 'USER', { exp: now + 3600, iat: now + 30 }),
    'no iat': await mint(m!.id, 'USER', { exp: now + 3600 }),
  };
  for (const [what, token] of Object.entries(accepted)) t.is((await get(token)).status, 200, what);
});

test('when the scheme is written bearer or BEARER, then the token is accepted', async (t) => {
  const [m] = await stack.members(1);
  for (const scheme of ['bearer', 'BEARER', 'Bearer', 'bEaReR'])
    t.is(
      (await stack.http('GET', '/api/me/holds', { headers: { authorization: `${scheme} ${m!.token}` } }))
        .status,
      200,
      scheme,
    );
  t.is(
    (await stack.http('GET', '/api/me/holds', { headers: { authorization: `Basic ${m!.token}` } })).status,
    401,
  );
});

test('when an ADMIN token belongs to a member who is not an ADMIN in MySQL, then admin routes answer 403', async (t) => {
  const [m] = await stack.members(1);
  const { performanceId } = await stack.performance(2);
  const forged = await stack.token(m!.id, 'ADMIN');
  const live = await stack.http('GET', `/api/admin/performances/${performanceId}`, { token: forged });
  t.is(live.status, 403);
  t.is(live.body['code'], 'forbidden');
  const patch = await stack.http('PATCH', `/api/performances/${performanceId}`, {
    token: forged,
    body: { admissionPaused: true },
  });
  t.is(patch.status, 403);
  t.false((await Performance.findByPk(performanceId))!.admissionPaused);
  t.is((await stack.http('GET', '/admin/queues/api/queues', { token: forged })).status, 403);

  // A promoted member gains the rights, and loses them once demoted, within the role cache.
  await Member.update({ role: 'ADMIN' }, { where: { id: m!.id } });
  await new Promise((r) => setTimeout(r, ROLE_CACHE_MS + 100));
  t.is((await stack.http('GET', `/api/admin/performances/${performanceId}`, { token: forged })).status, 200);
  await Member.update({ role: 'USER' }, { where: { id: m!.id } });
  await new Promise((r) => setTimeout(r, ROLE_CACHE_MS + 100));
  t.is((await stack.http('GET', `/api/admin/performances/${performanceId}`, { token: forged })).status, 403);
});

test('when a response disagrees with the document, then the conformance check names the operation, status and schema path', async (t) => {
  const headers = (type: string) => new Headers({ 'content-type': type });
  const { performanceId } = await stack.performance(2);
  const real = await stack.http('GET', `/api/performances/${performanceId}`);
  const wrongField = disagreement({
    method: 'GET',
    url: `/api/performances/${performanceId}`,
    status: 200,
    headers: headers('application/json'),
    text: JSON.stringify({ ...real.body, id: 'one' }),
  });
  t.regex(wrongField ?? '', /getApiPerformancesId .*→ 200.*"\/id" must be integer/);
  t.regex(
    disagreement({
      method: 'GET',
      url: '/api/performances',
      status: 201,
      headers: headers('application/json'),
      text: '{}',
    }) ?? '',
    /status 201 is not declared/,
  );
  t.regex(
    disagreement({
      method: 'GET',
      url: '/api/performances',
      status: 200,
      headers: headers('text/html'),
      text: '<p>',
    }) ?? '',
    /content type "text\/html" is not declared/,
  );
  t.regex(
    disagreement({
      method: 'PUT',
      url: '/api/performances',
      status: 404,
      headers: headers('application/problem+json'),
      text: '{}',
    }) ?? '',
    /must be 405/,
  );
  t.is(
    disagreement({
      method: 'GET',
      url: '/api/performances',
      status: 200,
      headers: headers('application/json; charset=utf-8'),
      text: '{"items":[]}',
    }),
    undefined,
  );
});
