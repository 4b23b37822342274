import { Router } from 'express';
import { z } from 'zod';
import { who } from '../middlewares/auth.js';
import { parse } from '../middlewares/validate.js';
import { pathId } from './params.js';
import type { ApiDeps } from '../deps.js';

export const afterQuery = z.object({
  after: z
    .string()
    .regex(/^\d{1,15}$/, 'a non-negative integer')
    .transform(Number)
    .optional(),
});

/** The sale's fairness, public and checkable (see shared/domain/fairness.ts for the rules). */
export function fairnessRoutes({ ctx, member }: ApiDeps): Router {
  const r = Router();

  r.get('/performances/:id/fairness', async (req, res) => {
    const { id } = await ctx.catalogue.info(pathId(req.params, 'id'));
    res.json(await ctx.fairness.published(id));
  });

  r.get('/performances/:id/fairness/log', async (req, res) => {
    const { after } = parse(afterQuery, req.query, 'query');
    const { id } = await ctx.catalogue.info(pathId(req.params, 'id'));
    res.json(await ctx.fairness.logPage(id, after ?? 0));
  });

  r.get('/performances/:id/fairness/roster', async (req, res) => {
    const { after } = parse(afterQuery, req.query, 'query');
    const { id } = await ctx.catalogue.info(pathId(req.params, 'id'));
    res.json(await ctx.fairness.rosterPage(id, after ?? 0));
  });

  r.get('/performances/:id/waiting/receipt', member, async (req, res) => {
    const { id } = await ctx.catalogue.info(pathId(req.params, 'id'));
    res.json(await ctx.fairness.receipt(id, who(req).memberId));
  });

  return r;
}
