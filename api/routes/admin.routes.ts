import { Router } from 'express';
import { SaleControls, saleControlsSchema } from '../../shared/sales/sale-controls.service.js';
import { requireAdmin, who } from '../middlewares/auth.js';
import { parse } from '../middlewares/validate.js';
import { pathId } from './params.js';
import type { ApiDeps } from '../deps.js';
import { signAccessToken } from '../../shared/auth/tokens.js';
import { QUEUE_BOARD_COOKIE, QUEUE_BOARD_COOKIE_SECONDS } from '../admin/bull-board.js';

/** The operator's routes (ADMIN only): the sale controls and the sale's live state. */
export function adminRoutes({ ctx, member }: ApiDeps): Router {
  const r = Router();
  const controls = new SaleControls(ctx);

  r.patch('/performances/:id', member, requireAdmin, async (req, res) => {
    const id = pathId(req.params, 'id');
    const patch = parse(saleControlsSchema, req.body, 'body');
    if (patch.salesOpenAt) await ctx.catalogue.checkSalesOpenAt(id, patch.salesOpenAt);
    res.json(await controls.update(id, patch));
  });

  r.get('/admin/performances/:id', member, requireAdmin, async (req, res) => {
    res.json(await controls.live(pathId(req.params, 'id')));
  });

  // The queue board (/admin/queues) for this admin without a second login: a fresh short-lived
  // token in a cookie scoped to /admin, never readable by scripts nor sent from another site.
  r.post('/admin/queue-board/session', member, requireAdmin, async (req, res) => {
    const token = await signAccessToken(ctx.config.jwtSecret, who(req), QUEUE_BOARD_COOKIE_SECONDS);
    res.cookie(QUEUE_BOARD_COOKIE, token, {
      path: '/admin',
      httpOnly: true,
      sameSite: 'strict',
      secure: req.secure,
      maxAge: QUEUE_BOARD_COOKIE_SECONDS * 1000,
    });
    res.status(204).end();
  });

  return r;
}
