import { Router } from 'express';
import { SaleControls, saleControlsSchema } from '../../shared/sales/sale-controls.service.js';
import { requireAdmin } from '../middlewares/auth.js';
import { parse } from '../middlewares/validate.js';
import { pathId } from './params.js';
import type { ApiDeps } from '../deps.js';

/** The operator's routes (ADMIN only): the sale controls and the sale's live state. */
export function adminRoutes({ ctx, member }: ApiDeps): Router {
  const r = Router();
  const controls = new SaleControls(ctx);

  r.patch('/performances/:id', member, requireAdmin, async (req, res) => {
    const id = pathId(req.params, 'id');
    const patch = parse(saleControlsSchema, req.body, 'body');
    res.json(await controls.update(id, patch));
  });

  r.get('/admin/performances/:id', member, requireAdmin, async (req, res) => {
    res.json(await controls.live(pathId(req.params, 'id')));
  });

  return r;
}
