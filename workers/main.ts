import { pathToFileURL } from 'node:url';
import { createServer, type Server } from 'node:http';
import { loadConfig, type Config } from '../shared/config.js';
import { createContext, type Context } from '../shared/context.js';
import { createLogger } from '../shared/logger.js';
import { registry } from '../shared/metrics.js';
import { Shutdown } from '../shared/shutdown.js';
import { SeatWorkers } from './seat.worker.js';
import { registerWorkerGauges, startAdmissionTicker, startSweeper } from './maintenance.js';

export type WorkerProcess = {
  ctx: Context;
  workers: SeatWorkers;
  metricsServer?: Server;
  close(): Promise<void>;
};

/** Everything one worker process runs; tests start it in-process too. */
export async function startWorkerProcess(
  config: Config,
  opts: { metrics?: boolean } = {},
): Promise<WorkerProcess> {
  const ctx = createContext(config, 'workers');
  const workers = new SeatWorkers(ctx);
  await workers.start();
  const stopTicker = startAdmissionTicker(ctx);
  const stopSweeper = startSweeper(ctx);
  const stopGauges = registerWorkerGauges(ctx, () => workers.performanceIds);
  let metricsServer: Server | undefined;
  if (opts.metrics !== false) {
    metricsServer = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end();
      registry.metrics().then(
        (body) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((resolve) => metricsServer!.listen(config.workerMetricsPort, resolve));
  }
  return {
    ctx,
    workers,
    metricsServer,
    async close() {
      stopTicker();
      stopGauges();
      stopSweeper();
      await new Promise((r) => (metricsServer ? metricsServer.close(r) : r(undefined)));
      await workers.close();
      await ctx.close();
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, 'workers');
  const shutdown = new Shutdown(logger);
  shutdown.listen();
  startWorkerProcess(config).then(
    (w) => {
      shutdown.add('workers', () => w.close());
      logger.info(
        { metrics: `http://127.0.0.1:${config.workerMetricsPort}/metrics`, pid: process.pid },
        'workers started',
      );
    },
    (err: unknown) => {
      logger.fatal({ err }, 'workers failed to start');
      process.exit(1);
    },
  );
}
