import test from 'ava';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { ROOT, testEnv } from './helpers/stack.js';

// `npm start` runs the API and the workers in one process, so one metrics registry: it must be
// served once, or a Prometheus scraping both endpoints counts every series twice.

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

test('when npm start runs the API and workers in one process, then its metrics are served once, on the API only', async (t) => {
  const workerPort = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...testEnv({ WORKER_METRICS_PORT: String(workerPort), PORT: '0', METRICS_PORT: '0' }),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const banner = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ctrl-C stops it')) resolve(out);
      });
      child.once('exit', (code) => reject(new Error(`npm start exited ${code}: ${out}`)));
      setTimeout(() => reject(new Error(`no banner in 60 s: ${out}`)), 60_000).unref();
    });
    const api = /API\s+(http:\/\/\S+)\/api\/performances/.exec(banner)?.[1];
    t.truthy(api, banner);
    const metricsUrl = /metrics\s+(http:\/\/\S+\/metrics)/.exec(banner)?.[1];
    t.truthy(metricsUrl, banner);
    t.is((await fetch(`${api}/metrics`)).status, 404, 'not on the public port');
    const metrics = await (await fetch(metricsUrl!)).text();
    t.regex(metrics, /^# TYPE waiting_room_admissions_total counter$/m, 'the workers’ metrics are there');
    t.regex(metrics, /^# TYPE http_request_duration_seconds histogram$/m, 'and the API’s');
    const series = metrics.split('\n').filter((l) => l && !l.startsWith('#'));
    t.is(new Set(series.map((l) => l.split(' ')[0])).size, series.length, 'each series once');
    const other = await fetch(`http://127.0.0.1:${workerPort}/metrics`).then(
      (r) => r.status,
      () => 'refused',
    );
    t.is(other, 'refused', 'no second endpoint serves the same registry');
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
});
