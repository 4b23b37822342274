import express, { type Express, type RequestHandler } from 'express';
import compression from 'compression';
import { fileURLToPath } from 'node:url';
import type { Context } from '../shared/context.js';
import { createRedis } from '../shared/redis.js';
import { SeatRequests } from '../shared/holds/requests.service.js';
import { RequestWaiter } from '../shared/holds/request-waiter.js';
import { SeatEventHub } from '../shared/seat-events/seat-events.js';
import { LineView } from '../shared/waiting-room/line-view.js';
import { NotAdmittedError } from '../shared/errors.js';
import { tracing } from '../shared/tracing/tracing.js';
import { observe } from './middlewares/observe.js';
import { problem, notFound } from './middlewares/problem.js';
import { RateLimiter } from './middlewares/rate-limit.js';
import { WaitSlots } from './middlewares/wait-cap.js';
import { requireMember } from './middlewares/auth.js';
import { identityRoutes } from './routes/identity.routes.js';
import { performanceRoutes } from './routes/performances.routes.js';
import { waitingRoutes } from './routes/waiting.routes.js';
import { fairnessRoutes } from './routes/fairness.routes.js';
import { holdRoutes } from './routes/holds.routes.js';
import { adminRoutes } from './routes/admin.routes.js';
import { docsRoutes } from './openapi/docs.routes.js';
import { documentedPaths } from './openapi/openapi.js';
import { doors } from './middlewares/doors.js';
import { adminRouter } from './admin/bull-board.js';
import type { ApiDeps } from './deps.js';

export const JSON_TYPES = ['application/json', 'application/*+json'];

export type Api = { app: Express; hub: SeatEventHub; close(): Promise<void> };

export function createApi(ctx: Context): Api {
  const { config } = ctx;
  const subscriber = createRedis(config, 'blocking', 'api-subscriber');
  subscriber.on('error', (err) => ctx.logger.debug({ err }, 'subscriber error'));
  const waiter = new RequestWaiter(subscriber, ctx.channels);
  // Heard from the start, announcements answer polls without a round trip.
  waiter.listen().catch((err: unknown) => ctx.logger.warn({ err }, 'request announcements not heard yet'));
  const hub = new SeatEventHub(subscriber, ctx.channels, ctx.logger, config.sseHeartbeatSeconds, {
    maxReplay: config.sseMaxReplayEvents,
    maxStreamsPerMember: config.sseMaxStreamsPerMember,
    maxStreams: config.sseMaxStreams,
    maxBufferedBytes: config.sseMaxBufferedBytes,
  });
  const line = new LineView(ctx.waitingRoom, subscriber);
  line.listen().catch((err: unknown) => ctx.logger.warn({ err }, 'waiting-room heads not heard yet'));
  const requests = new SeatRequests(
    config,
    ctx.sequelize,
    ctx.queues,
    ctx.catalogue,
    ctx.payments,
    waiter,
    ctx.redis,
  );
  const limit = (name: string, perSecond: number) =>
    RateLimiter.perSecond(ctx.redis, config.keyPrefix, name, perSecond);
  // Per process (no Redis round trip on every request): a coarse guard against one address's flood.
  const ipLimiter = RateLimiter.local(config.rateLimitIpPerSecond);
  const byIp: RequestHandler = async (req, _res, next) => {
    await ipLimiter.take(req.ip ?? 'unknown');
    next();
  };
  const deps: ApiDeps = {
    ctx,
    requests,
    hub,
    member: requireMember(config.jwtSecret, limit('member', config.rateLimitMemberPerSecond)),
    lineReader: requireMember(config.jwtSecret, RateLimiter.local(config.rateLimitMemberPerSecond)),
    line,
    waits: new WaitSlots(),
    // scrypt costs milliseconds of a small thread pool: per client address, and per account.
    credentials: {
      client: new RateLimiter(ctx.redis, config.keyPrefix, 'login-ip', config.rateLimitLoginPerMinute, 60),
      account: new RateLimiter(
        ctx.redis,
        config.keyPrefix,
        'login-account',
        config.rateLimitLoginAccountPerMinute,
        60,
      ),
    },
    async admitted(performanceId, memberId) {
      await ctx.catalogue.info(performanceId);
      if (!(await ctx.waitingRoom.touch(performanceId, memberId))) throw new NotAdmittedError(performanceId);
    },
  };
  const admin = adminRouter(ctx);

  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.set('etag', false);
  app.use(observe(ctx.logger));
  // 16 KiB for every body but the ADMIN's layout, which reads its own (up to 2 MiB) once the
  // caller is known to be an ADMIN (performances.routes.ts).
  const smallJson = express.json({ limit: '16kb', type: JSON_TYPES });
  // OPTIONS, 405 with Allow, 415 and bodies where none is taken, for every documented path.
  app.use(doors(documentedPaths(), { jsonTypes: JSON_TYPES, readJson: smallJson }));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', async (_req, res) => {
    const checks = await Promise.allSettled([ctx.sequelize.query('SELECT 1'), ctx.redis.ping()]);
    const [mysql, redis] = checks.map((c) => (c.status === 'fulfilled' ? 'ok' : 'down'));
    const ok = mysql === 'ok' && redis === 'ok';
    if (!ok) res.setHeader('Retry-After', '2');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', mysql, redis });
  });
  app.use('/admin', byIp);
  app.use(docsRoutes());
  app.use(admin.router);
  app.use('/api', byIp);
  // The waiting line's routes take no body and answer a few hundred bytes: ahead of the body parser
  // and the compressor, which would only cost them time.
  app.use('/api', waitingRoutes(deps));
  app.use('/api', (req, res, next) => {
    if (req.method === 'POST' && req.path === '/performances') return next();
    smallJson(req, res, next);
  });
  // Seat maps are large and repetitive; the event stream must not be buffered by the compressor.
  app.use(
    '/api',
    compression({
      filter: (req, res) =>
        !String(res.getHeader('Content-Type') ?? '').startsWith('text/event-stream') &&
        compression.filter(req, res),
    }),
  );
  app.use('/api', identityRoutes(deps), performanceRoutes(deps), fairnessRoutes(deps), holdRoutes(deps));
  app.use('/api', adminRoutes(deps));
  app.use('/api', notFound);
  app.use(express.static(fileURLToPath(new URL('./public', import.meta.url)), { index: 'index.html' }));
  app.use(notFound);
  app.use(problem);
  tracing()?.mounted(app);

  return {
    app,
    hub,
    async close() {
      await requests.flushSeqs();
      admin.close();
      hub.close();
      waiter.close();
    },
  };
}
