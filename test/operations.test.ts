import test from 'ava';
import { spawnSync } from 'node:child_process';
import { ROOT, Stack } from './helpers/stack.js';
import { parseConfig } from '../shared/config.js';
import { startApiProcess } from '../api/main.js';

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 0, env: { RATE_LIMIT_MEMBER_PER_SECOND: '2' } });
});
test.after.always(async () => stack?.close());

test('when the queue admin is opened, then only an ADMIN gets in and the board is read-only', async (t) => {
  const { performanceId } = await stack.performance(2);
  const [m] = await stack.members(1);
  const anonymous = await stack.http('GET', '/admin/queues');
  t.is(anonymous.status, 401);
  t.regex(anonymous.headers.get('www-authenticate') ?? '', /^Basic/);
  t.is((await stack.http('GET', '/admin/queues', { token: m!.token })).status, 403);
  const wrong = Buffer.from(`${stack.config.adminEmail}:not-the-password`).toString('base64');
  t.is(
    (await stack.http('GET', '/admin/queues', { headers: { authorization: `Basic ${wrong}` } })).status,
    403,
  );
  const basic = Buffer.from(`${stack.config.adminEmail}:${stack.config.adminPassword}`).toString('base64');
  const page = await stack.http('GET', '/admin/queues', { headers: { authorization: `Basic ${basic}` } });
  t.is(page.status, 200);
  t.regex(String(page.body), /<html/i);
  const queues = await stack.http<{ queues: { name: string; displayName: string; readOnlyMode: boolean }[] }>(
    'GET',
    '/admin/queues/api/queues',
    {
      token: await stack.admin(),
    },
  );
  t.is(queues.status, 200);
  // Shown by its performance's name (the queue's own name stays `{perf-N}`).
  const ours = queues.body.queues.find((q) => q.name.endsWith(`{perf-${performanceId}}`));
  t.truthy(ours, 'the performance queue is on the board');
  t.is(ours!.displayName, `test ${stack.config.keyPrefix} (#${performanceId})`);
  t.true(ours!.readOnlyMode);
});

test('when a member sends more than the sustained rate, then 429 rate-limited with Retry-After', async (t) => {
  const [m] = await stack.members(1);
  const replies = await Promise.all(
    Array.from({ length: 12 }, () => stack.http('GET', '/api/me/holds', { token: m!.token })),
  );
  const limited = replies.filter((r) => r.status === 429);
  t.true(replies.filter((r) => r.status === 200).length >= 4, 'a burst of twice the rate passes');
  t.true(limited.length > 0);
  t.is(limited[0]!.body['code'], 'rate-limited');
  t.truthy(limited[0]!.headers.get('retry-after'));
});

test('when probes are called, then health and readiness answer', async (t) => {
  t.deepEqual((await stack.http('GET', '/healthz')).body, { status: 'ok' });
  t.like((await stack.http('GET', '/readyz')).body, { status: 'ok', mysql: 'ok', redis: 'ok' });
});

test('when METRICS_PORT is set, then /metrics is served there and not on the public port', async (t) => {
  const onPublic = await stack.http('GET', '/metrics');
  t.is(onPublic.status, 404);
  t.is(onPublic.body['code'], 'not-found');
  const metrics = await fetch(stack.metricsUrl);
  t.is(metrics.status, 200);
  t.regex(await metrics.text(), /# TYPE http_request_duration_seconds histogram/);
  t.not(new URL(stack.metricsUrl).port, new URL(stack.url).port);
});

test.serial('when METRICS_PORT is unset, then the API serves no /metrics anywhere', async (t) => {
  const config = parseConfig({ ...stack.env, METRICS_PORT: '' });
  t.is(config.metricsPort, undefined);
  const api = await startApiProcess(config);
  try {
    t.is(api.metricsUrl, undefined);
    t.is((await fetch(`${api.url}/metrics`)).status, 404);
  } finally {
    await api.close();
  }
});

test('when a process starts with a bad environment, then it stops with a message naming the variable', (t) => {
  for (const entry of ['api/main.ts', 'workers/main.ts']) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', entry], {
      cwd: ROOT,
      env: { ...process.env, PORT: 'eighty', HOLD_TTL_SECONDS: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    t.is(r.status, 2, entry);
    t.regex(r.stderr, /PORT/);
    t.regex(r.stderr, /HOLD_TTL_SECONDS/);
  }
  const prod = spawnSync(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', JWT_SECRET: '', ADMIN_EMAIL: '', ADMIN_PASSWORD: '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(prod.status, 2);
  t.regex(prod.stderr, /JWT_SECRET: the development value is refused in production/);
});
