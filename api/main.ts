import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../shared/config.js';
import { bindDeployment, createContext, type Context } from '../shared/context.js';
import { ensureAdmin } from '../shared/auth/identity.service.js';
import { isMain, runProcess } from '../shared/entrypoint.js';
import { startHeartbeat } from '../shared/deployment.js';
import { serveMetrics } from '../shared/metrics-server.js';
import { createApi, type Api } from './server.js';

export type ApiProcess = {
  ctx: Context;
  server: Server;
  url: string;
  /** This process's event-stream hub (tests read how many streams it holds). */
  hub: Api['hub'];
  /** `/metrics` on METRICS_PORT, when set (never on the public port). */
  metricsUrl?: string;
  close(): Promise<void>;
};

/** Starts one API process on config.port (0 picks a free port); tests start it in-process. */
export async function startApiProcess(config: Config): Promise<ApiProcess> {
  const ctx = createContext(config, 'api');
  try {
    await bindDeployment(ctx);
    await ensureAdmin(config);
  } catch (err) {
    await ctx.close();
    throw err;
  }
  const stopHeartbeat = startHeartbeat(ctx.redis, config.keyPrefix, 'api');
  const api = createApi(ctx);
  // A sale opens with thousands of new connections at once: the default accept backlog (511)
  // overflows and the kernel drops SYNs, which clients retry only after 1, 3, 7 s.
  const server = createServer(api.app);
  server.listen({ port: config.port, backlog: 4096 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  try {
    if (config.metricsPort !== undefined) metrics = await serveMetrics(config.metricsPort);
  } catch (err) {
    await stopHeartbeat();
    await api.close();
    await new Promise((r) => server.close(r));
    await ctx.close();
    throw err;
  }
  return {
    ctx,
    server,
    url,
    hub: api.hub,
    metricsUrl: metrics?.url,
    async close() {
      await stopHeartbeat();
      if (metrics) await new Promise((r) => metrics.server.close(r));
      await api.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await ctx.close();
    },
  };
}

if (isMain(import.meta.url)) {
  void runProcess('api', async (config, logger, shutdown) => {
    const api = await startApiProcess(config);
    shutdown.add('api', () => api.close());
    logger.info({ url: api.url, metrics: api.metricsUrl, pid: process.pid }, 'api listening');
  });
}
