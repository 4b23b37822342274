import type { Server } from 'node:http';
import type { Config } from '../shared/config.js';
import { bindDeployment, createContext, type Context } from '../shared/context.js';
import { serveMetrics } from '../shared/metrics-server.js';
import { isMain, runProcess } from '../shared/entrypoint.js';
import { startHeartbeat } from '../shared/deployment.js';
import { SeatWorkers } from './seat.worker.js';
import { startAdmissionTicker } from '../shared/waiting-room/admission-ticker.js';
import { startAdmissionLogWriter } from '../shared/fairness/log-writer.js';
import { startSweeper } from './sweeper.js';
import { registerWorkerGauges } from './gauges.js';

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
  try {
    await bindDeployment(ctx);
  } catch (err) {
    await ctx.close();
    throw err;
  }
  const stopHeartbeat = startHeartbeat(ctx.redis, config.keyPrefix, 'workers');
  const workers = new SeatWorkers(ctx);
  await workers.start();
  if (config.faultInjection === 'kill-before-reveal')
    ctx.fairness.beforeReveal = () => process.kill(process.pid, 'SIGKILL');
  const stopTicker = startAdmissionTicker(ctx);
  const stopLogWriter = startAdmissionLogWriter(ctx);
  const stopSweeper = startSweeper(ctx);
  const stopGauges = registerWorkerGauges(ctx, () => workers.performanceIds);
  let metricsServer: Server | undefined;
  if (opts.metrics !== false) {
    metricsServer = (await serveMetrics(config.workerMetricsPort)).server;
  }
  return {
    ctx,
    workers,
    metricsServer,
    async close() {
      await stopHeartbeat();
      stopTicker();
      await stopLogWriter();
      stopGauges();
      stopSweeper();
      await new Promise((r) => (metricsServer ? metricsServer.close(r) : r(undefined)));
      await workers.close();
      await ctx.close();
    },
  };
}

if (isMain(import.meta.url)) {
  void runProcess('workers', async (config, logger, shutdown) => {
    const w = await startWorkerProcess(config);
    shutdown.add('workers', () => w.close());
    logger.info(
      { metrics: `http://127.0.0.1:${config.workerMetricsPort}/metrics`, pid: process.pid },
      'workers started',
    );
  });
}
