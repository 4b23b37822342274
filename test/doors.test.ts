import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Stack } from './helpers/stack.js';
import { Member } from '../shared/db/models/index.js';
import { registerMember } from '../shared/auth/identity.service.js';

const basic = (email: string, password: string) =>
  `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}`;

test('when a member spreads requests over two API processes, then the rate limit is shared', async (t) => {
  const stack = await Stack.start({ apis: 2, workers: 0, env: { RATE_LIMIT_MEMBER_PER_SECOND: '2' } });
  t.teardown(() => stack.close());
  const [m] = await stack.members(1);
  const replies = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      stack.http('GET', '/api/me/holds', { token: m!.token, base: stack.apis[i % 2]!.url }),
    ),
  );
  const ok = replies.filter((r) => r.status === 200).length;
  t.is(ok, 4, 'a burst of twice the rate in all, not per process');
  t.is(replies.filter((r) => r.status === 429).length, 4);
});

test('when one client tries many logins and sign-ups, then it is limited whatever the addresses', async (t) => {
  const stack = await Stack.start({
    workers: 0,
    env: { RATE_LIMIT_LOGIN_PER_MINUTE: '5', RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE: '3' },
  });
  t.teardown(() => stack.close());
  const run = randomBytes(3).toString('hex');
  const statuses: number[] = [];
  for (let i = 0; i < 7; i++) {
    const r = await stack.http('POST', i % 2 ? '/api/login' : '/api/members', {
      body: { email: `door-${run}-${i}@example.com`, password: 'long-enough-1' },
    });
    statuses.push(r.status);
  }
  t.deepEqual(statuses.slice(5), [429, 429], `statuses ${statuses.join(',')}`);
  t.false(statuses.slice(0, 5).includes(429));
});

test("when one account's password is guessed, then the account's logins are limited", async (t) => {
  const stack = await Stack.start({
    workers: 0,
    env: { RATE_LIMIT_LOGIN_PER_MINUTE: '0', RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE: '3' },
  });
  t.teardown(() => stack.close());
  const email = `guessed-${randomBytes(3).toString('hex')}@example.com`;
  await registerMember(email, 'the-real-password');
  const codes: number[] = [];
  for (const password of ['guess-1', 'guess-2', 'guess-3', 'the-real-password'])
    codes.push((await stack.http('POST', '/api/login', { body: { email, password } })).status);
  t.deepEqual(codes, [401, 401, 401, 429]);
});

test('when the queue admin is sent wrong basic credentials repeatedly, then the client is locked out even with the right ones', async (t) => {
  const stack = await Stack.start({ workers: 0, env: { ADMIN_LOCKOUT_ATTEMPTS: '3' } });
  t.teardown(() => stack.close());
  const { adminEmail, adminPassword } = stack.config;
  for (let i = 0; i < 3; i++) {
    const r = await stack.http('GET', '/admin/queues', {
      headers: { authorization: basic(adminEmail, `wrong-${i}`) },
    });
    t.is(r.status, 403);
  }
  const locked = await stack.http('GET', '/admin/queues', {
    headers: { authorization: basic(adminEmail, adminPassword) },
  });
  t.is(locked.status, 429);
  t.truthy(locked.headers.get('retry-after'));
  t.is(
    (await stack.http('GET', '/admin/queues/api/queues', { token: await stack.admin() })).status,
    200,
    'an admin token still works',
  );
});

test('when ADMIN_EMAIL belongs to an account signed up before, then it is not promoted and the API does not start', async (t) => {
  const email = `future-admin-${randomBytes(3).toString('hex')}@example.com`;
  const { memberId } = await registerMember(email, 'squatter-password');
  const error = await t.throwsAsync(Stack.start({ workers: 0, env: { ADMIN_EMAIL: email } }));
  t.regex(error.message, /not promoted/);
  t.is((await Member.findByPk(memberId))?.role, 'USER');
});

test('when ADMIN_PASSWORD changes, then the old password no longer works', async (t) => {
  const email = `admin-${randomBytes(3).toString('hex')}@example.com`;
  const login = (s: Stack, password: string) =>
    s.http('POST', '/api/login', { body: { email, password } }).then((r) => r.status);
  const first = await Stack.start({
    workers: 0,
    env: { ADMIN_EMAIL: email, ADMIN_PASSWORD: 'first-password' },
  });
  t.is(await login(first, 'first-password'), 200);
  await first.close();
  const second = await Stack.start({
    workers: 0,
    env: { ADMIN_EMAIL: email, ADMIN_PASSWORD: 'second-password' },
  });
  t.teardown(() => second.close());
  t.is(await login(second, 'first-password'), 401, 'the old password is refused');
  t.is(await login(second, 'second-password'), 200);
  t.is((await Member.findOne({ where: { email } }))?.role, 'ADMIN');
});
