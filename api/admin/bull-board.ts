import { timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Context } from '../../shared/context.js';
import { verifyAccessToken } from '../../shared/auth/tokens.js';
import { bearerToken } from '../middlewares/auth.js';
import { SaleStateRepository } from '../../shared/db/repositories/sale-state.repository.js';
import { localBullBoardUi } from './bull-board-ui.js';

const BASE = '/admin/queues';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** ADMIN only: a Bearer admin token, or basic auth with ADMIN_EMAIL/ADMIN_PASSWORD (so a browser can log in). */
function adminOnly(ctx: Context): RequestHandler {
  return async (req, res, next) => {
    const token = bearerToken(req);
    if (token) {
      const identity = await verifyAccessToken(ctx.config.jwtSecret, token);
      if (identity?.role === 'ADMIN') return next();
    }
    const basic = req.headers.authorization?.startsWith('Basic ')
      ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString('utf8')
      : undefined;
    if (basic) {
      const i = basic.indexOf(':');
      if (
        same(basic.slice(0, i).toLowerCase(), ctx.config.adminEmail.toLowerCase()) &&
        same(basic.slice(i + 1), ctx.config.adminPassword)
      )
        return next();
    }
    res.setHeader('WWW-Authenticate', 'Basic realm="ticketing admin", charset="UTF-8"');
    res
      .status(token || basic ? 403 : 401)
      .type('application/problem+json')
      .send(
        JSON.stringify(
          token || basic
            ? {
                type: 'about:blank#forbidden',
                title: 'Forbidden',
                status: 403,
                detail: 'ADMIN only.',
                code: 'forbidden',
              }
            : {
                type: 'about:blank#unauthenticated',
                title: 'Unauthenticated',
                status: 401,
                detail: 'ADMIN credentials required.',
                code: 'unauthenticated',
              },
        ),
      );
  };
}

/** bull-board over every performance queue; new performances appear within a few seconds. */
export function adminRouter(ctx: Context): { router: Router; close: () => void } {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BASE);
  const board = createBullBoard({
    queues: [],
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Ticketing queues' }, uiBasePath: localBullBoardUi() },
  });
  const shown = new Set<number>();
  const rows = new SaleStateRepository(ctx.sequelize);
  const sync = async () => {
    const ids = (await ctx.queues.registeredPerformanceIds()).filter((id) => !shown.has(id));
    // Queues read like the business: by their performance's name (queue names are `{perf-N}`).
    for (const p of await rows.controls(ids)) {
      shown.add(p.id);
      board.addQueue(
        new BullMQAdapter(await ctx.queues.get(p.id), {
          readOnlyMode: ctx.config.bullBoardReadOnly,
          displayName: `${p.name} (#${p.id})`,
          // bull-board's menu shows prefix + queue name (and routes by it): no slash or query marks.
          prefix: `${p.name.replace(/[/\\?#%]/g, '-')} · `,
          description: `Seat requests of performance ${p.id}, applied in order`,
        }),
      );
    }
  };
  const timer = setInterval(() => void sync().catch(() => undefined), 5000);
  timer.unref();
  const router = Router();
  router.use(
    BASE,
    adminOnly(ctx),
    async (_req, _res, next) => {
      await sync().catch(() => undefined);
      next();
    },
    serverAdapter.getRouter() as RequestHandler,
  );
  return { router, close: () => clearInterval(timer) };
}
