import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Sequelize } from 'sequelize';
import { ROOT, Stack, eventually, testEnv } from './helpers/stack.js';
import { seatEventsChannel } from '../shared/seat-events/seat-events.js';
import { deploymentKey } from '../shared/deployment.js';

/** Runs a script (or a worker) in its own process; resolves with its exit code and output. */
function run(
  args: string[],
  env: Record<string, string>,
  until?: RegExp,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const take = (d: Buffer) => {
      out += d.toString();
      if (until?.test(out)) child.kill('SIGTERM');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

test('when two deployments share one Redis with different database indexes and the same key prefix, then neither hears the other', async (t) => {
  const a = await Stack.start({ workers: 1 });
  t.teardown(() => a.close());
  const b = await Stack.start({
    workers: 0,
    env: { KEY_PREFIX: a.config.keyPrefix, REDIS_URL: 'redis://127.0.0.1:6379/1' },
  });
  t.teardown(() => b.close());
  t.not(a.ctx.channels, b.ctx.channels);
  const { performanceId, seatIds } = await a.performance(2);
  const heard = { a: 0, b: 0 };
  const listeners = await Promise.all(
    (['a', 'b'] as const).map(async (name) => {
      const s = name === 'a' ? a : b;
      const l = new Redis(s.config.redisUrl);
      l.on('message', () => heard[name]++);
      await l.subscribe(seatEventsChannel(s.ctx.channels, performanceId));
      return l;
    }),
  );
  t.teardown(() => listeners.forEach((l) => l.disconnect()));
  const [m] = await a.members(1);
  await a.admit(m!.token, performanceId);
  const r = await a.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m!.token,
    body: { seatIds },
  });
  await a.settle(m!.token, r.body.requestId);
  await eventually(async () => heard.a > 0);
  // Had b heard it, it would have by now: a's own listener, subscribed alike, already did.
  await new Promise((res) => setTimeout(res, 300));
  t.is(heard.b, 0, "b's channel carries none of a's seat events");
});

test('when the database is created again under an old Redis prefix, then the service refuses to start until npm run reset empties both', async (t) => {
  t.timeout(120_000);
  const db = `ticketing_reset_${randomBytes(3).toString('hex')}`;
  const env = testEnv({ DATABASE_URL: `mysql://root@127.0.0.1:3306/${db}` });
  const admin = new Sequelize('mysql://root@127.0.0.1:3306', { dialect: 'mysql', logging: false });
  const redis = new Redis(env['REDIS_URL']!);
  t.teardown(async () => {
    await admin.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await admin.close();
    for (const k of await redis.keys(`${env['KEY_PREFIX']}:*`)) await redis.del(k);
    redis.disconnect();
  });
  const started = /workers started/;
  t.is((await run(['scripts/migrate.ts'], env)).code, 0);
  const first = await run(['workers/main.ts'], env, started);
  t.regex(first.out, started, 'the first database starts');
  const owner = await redis.get(deploymentKey(env['KEY_PREFIX']!));
  t.truthy(owner);
  await redis.set(`${env['KEY_PREFIX']}:wr:{perf-1}:seq`, '29'); // state of the old database

  await admin.query(`DROP DATABASE \`${db}\``);
  t.is((await run(['scripts/migrate.ts'], env)).code, 0);
  const refused = await run(['workers/main.ts'], env, started);
  t.not(refused.code, 0, 'a new database does not run on the old Redis state');
  t.regex(refused.out, /npm run reset/);

  const reset = await run(['scripts/reset.ts'], env);
  t.is(reset.code, 0, reset.out);
  t.is(await redis.get(`${env['KEY_PREFIX']}:wr:{perf-1}:seq`), null, 'the old Redis state is gone');
  const again = await run(['workers/main.ts'], env, started);
  t.regex(again.out, started, 'after the reset it starts');
  t.not(await redis.get(deploymentKey(env['KEY_PREFIX']!)), owner, 'under a new deployment id');
});
