import { createHash, timingSafeEqual } from 'node:crypto';
import { Router, type RequestHandler } from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Context } from '../../shared/context.js';
import { verifyAccessToken } from '../../shared/auth/tokens.js';
import { isAdmin } from '../../shared/auth/identity.service.js';
import { bearerToken } from '../middlewares/auth.js';
import { RateLimiter } from '../middlewares/rate-limit.js';
import { SaleControls } from '../../shared/sales/sale-controls.service.js';
import { localBullBoardUi } from './bull-board-ui.js';

const BASE = '/admin/queues';

/**
 * The queue board's own session: a short-lived ADMIN token in a cookie that only `/admin` sees
 * (HttpOnly, SameSite=Strict), set by `POST /api/admin/queue-board/session` from the admin page's
 * Bearer session, so opening the board asks for no second login.
 */
export const QUEUE_BOARD_COOKIE = 'queue_board';
export const QUEUE_BOARD_COOKIE_SECONDS = 900;

function boardCookie(header: string | undefined): string | undefined {
  const m = header ? new RegExp(`(?:^|;\\s*)${QUEUE_BOARD_COOKIE}=([^;]+)`).exec(header) : null;
  return m?.[1];
}

// Digests of equal length, compared in constant time: neither the content nor the length of the
// password shows in how long a wrong guess takes.
function same(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * ADMIN only: a Bearer admin token, or basic auth with ADMIN_EMAIL/ADMIN_PASSWORD (so a browser can
 * log in). Wrong basic credentials count per client address: past ADMIN_LOCKOUT_ATTEMPTS in 15
 * minutes that address is locked out (429) for 15 minutes, whatever it sends.
 */
function adminOnly(ctx: Context): RequestHandler {
  const failures = new RateLimiter(
    ctx.redis,
    ctx.config.keyPrefix,
    'admin-basic',
    ctx.config.adminLockoutAttempts,
    900,
    900,
  );
  return async (req, res, next) => {
    const token = bearerToken(req);
    if (token) {
      const identity = await verifyAccessToken(ctx.config.jwtSecret, token);
      if (await isAdmin(identity)) return next();
    }
    const cookie = boardCookie(req.headers.cookie);
    if (cookie && (await isAdmin(await verifyAccessToken(ctx.config.jwtSecret, cookie)))) return next();
    const basic = req.headers.authorization?.startsWith('Basic ')
      ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString('utf8')
      : undefined;
    if (basic) {
      const client = req.ip ?? 'unknown';
      await failures.check(client);
      const i = basic.indexOf(':');
      const email = same(basic.slice(0, Math.max(0, i)).toLowerCase(), ctx.config.adminEmail.toLowerCase());
      const password = same(basic.slice(i + 1), ctx.config.adminPassword);
      if (i > 0 && email && password) return next();
      await failures.take(client);
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
  const sales = new SaleControls(ctx);
  const sync = async () => {
    const ids = (await ctx.queues.registeredPerformanceIds()).filter((id) => !shown.has(id));
    // Queues read like the business: by their performance's name (queue names are `{perf-N}`).
    for (const p of await sales.names(ids)) {
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
