import { Router } from 'express';
import { NotFoundError } from '../../shared/errors.js';
import { who } from '../middlewares/auth.js';
import { pathId } from './params.js';
import type { ApiDeps } from '../deps.js';

export function waitingRoutes({ ctx, member }: ApiDeps): Router {
  const r = Router();
  const room = ctx.waitingRoom;

  r.post('/performances/:id/waiting', member, async (req, res) => {
    const { id, capacity } = await ctx.catalogue.info(pathId(req.params, 'id'));
    res.json(await room.join(id, who(req).memberId, capacity, () => ctx.catalogue.stockState(id)));
  });

  r.get('/performances/:id/waiting', member, async (req, res) => {
    const { id, capacity } = await ctx.catalogue.info(pathId(req.params, 'id'));
    const status = await room.status(id, who(req).memberId, capacity);
    if (!status)
      throw new NotFoundError('not-in-line', 'You are not in this waiting room; join it with POST.');
    res.json(status);
  });

  r.delete('/performances/:id/waiting', member, async (req, res) => {
    const { id } = await ctx.catalogue.info(pathId(req.params, 'id'));
    await room.leave(id, who(req).memberId);
    res.status(204).end();
  });

  return r;
}
