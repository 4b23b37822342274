// npm start: the whole service on one machine: migrate, seed a demo, API + workers in this process.
import { migrate } from '../shared/db/migrate.js';
import { runProcess } from '../shared/entrypoint.js';
import { Performance } from '../shared/db/models/index.js';
import { registerMember } from '../shared/auth/identity.service.js';
import { ConflictError } from '../shared/errors.js';
import { seedPerformance } from '../shared/testing/seed.js';
import { parseCli } from './lib/cli.js';
import { startApiProcess } from '../api/main.js';
import { startWorkerProcess } from '../workers/main.js';

parseCli({
  command: 'npm start --',
  summary:
    'The whole service on one machine: migrates (creating the database if missing), seeds one demo\n' +
    'performance if there is none, runs the API and the workers in this process, prints the URLs.\n' +
    'Ctrl-C stops it. Configured by the environment (DATABASE_URL, REDIS_URL, PORT, ...).',
  runTime: 'ready in about 5 s; runs until stopped',
  options: {},
});

await runProcess('start', async (config, logger, shutdown) => {
  await migrate(config, logger);
  // One process, one metrics registry: served once, on the API's METRICS_PORT when set (a second
  // endpoint would serve every series twice).
  const workers = await startWorkerProcess(config, { metrics: false });
  shutdown.add('workers', () => workers.close());
  const api = await startApiProcess(config);
  shutdown.add('api', () => api.close());

  const demoEmail = 'demo@example.com';
  const demoPassword = 'demo-password';
  try {
    await registerMember(demoEmail, demoPassword);
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
  }
  if ((await Performance.count()) === 0)
    await seedPerformance(api.ctx.catalogue, 1500, { name: 'Demo concert', layout: 'stadium' });
  const performances = await api.ctx.catalogue.list();
  const base = api.url.replace('127.0.0.1', 'localhost');
  console.log(`
  Ticketing is running.
    web client     ${base}/
    API            ${base}/api/performances
    queue admin    ${base}/admin/queues   (basic auth: ${config.adminEmail} / ${config.nodeEnv === 'production' ? '<ADMIN_PASSWORD>' : config.adminPassword})
    metrics        ${api.metricsUrl ? `${api.metricsUrl.replace('127.0.0.1', 'localhost')}   (API and workers)` : 'set METRICS_PORT to serve /metrics'}
    sale controls  ${base}/admin.html   API docs  ${base}/docs
    demo member    ${demoEmail} / ${demoPassword}
    performances   ${performances.map((p) => `#${p.id} ${p.name}`).join(', ')}
  Ctrl-C stops it.
`);
});
