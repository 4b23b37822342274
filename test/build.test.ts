import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, testEnv } from './helpers/stack.js';
import { checkHoldTrace, compiled } from './helpers/hold-trace.js';

// The Docker image runs `npm run build`, then `node dist/...` with production dependencies only:
// here the same commands run the compiled API and workers (plain node, no tsx loader).

function startCompiled(
  script: string,
  env: Record<string, string>,
  ready: RegExp,
): Promise<{ child: ChildProcess; out: string }> {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve({ child, out });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${script} exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`${script} not ready in 60 s: ${out}`)), 60_000).unref();
  });
}

let built: { status: number | null; output: string } | undefined;
test.before(() => {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
  built = { status: build.status, output: build.stdout + build.stderr };
});

test.serial(
  'when the service is built, then the compiled API and workers run from dist/ with plain node',
  async (t) => {
    t.is(built?.status, 0, built?.output);
    for (const f of [
      'api/main.js',
      'workers/main.js',
      'scripts/migrate.js',
      'shared/queues/lua/take-batch.lua',
      'shared/tracing/preload.js',
      'shared/tracing/sdk.js',
      'api/public/index.html',
    ])
      t.true(existsSync(path.join(ROOT, 'dist', f)), f);

    const env = testEnv({ LOG_LEVEL: 'info' });
    const migrate = spawnSync(process.execPath, ['dist/scripts/migrate.js'], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'] ?? '', ...env },
      encoding: 'utf8',
    });
    t.is(migrate.status, 0, migrate.stderr);
    const api = await startCompiled('dist/api/main.js', env, /api listening/);
    const workers = await startCompiled('dist/workers/main.js', env, /workers started/);
    try {
      const url = /"url":"(http:\/\/[^"]+)"/.exec(api.out)![1]!;
      t.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
      t.is((await fetch(`${url}/readyz`)).status, 200);
      t.is((await fetch(`${url}/`)).status, 200, 'the web client is served from dist/api/public');
      t.is((await fetch(`${url}/api/openapi.json`)).status, 200);
    } finally {
      for (const c of [api.child, workers.child]) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        await exited;
      }
    }
  },
);

test.serial(
  'when the compiled build runs with tracing on, then a hold is one trace across the API and a worker',
  async (t) => {
    t.is(built?.status, 0, built?.output);
    await checkHoldTrace(t, compiled);
  },
);
