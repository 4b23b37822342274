import express, { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { createPerformanceSchema } from '../../shared/catalogue/catalogue.service.js';
import { SaleControls } from '../../shared/sales/sale-controls.service.js';
import { requireAdmin, who } from '../middlewares/auth.js';
import { parse } from '../middlewares/validate.js';
import { pathId } from './params.js';
import type { ApiDeps } from '../deps.js';
import type { SeatEventClient } from '../../shared/seat-events/seat-events.js';

export const lastEventId = z
  .string()
  .regex(/^\d{1,15}$/)
  .transform(Number)
  .optional();

export const seatsQuery = z.object({
  zone: z
    .string()
    .regex(/^[1-9]\d{0,14}$/, 'a zone id')
    .transform(Number)
    .optional(),
});

// EventSource cannot send headers: a browser passes its token as ?access_token= on this route only.
const tokenFromQuery: RequestHandler = (req, _res, next) => {
  const token = req.query['access_token'];
  if (!req.headers.authorization && typeof token === 'string') req.headers.authorization = `Bearer ${token}`;
  next();
};

export function performanceRoutes(deps: ApiDeps): Router {
  const { ctx, member, admitted, hub } = deps;
  const r = Router();
  const controls = new SaleControls(ctx);

  // A stadium's layout is one call: this body may be up to 2 MiB, read only once the caller is an ADMIN.
  const layoutJson = express.json({ limit: '2mb', type: ['application/json', 'application/*+json'] });
  r.post('/performances', member, requireAdmin, layoutJson, async (req, res) => {
    const body = parse(createPerformanceSchema, req.body, 'body');
    const { id } = await ctx.catalogue.create(body);
    await controls.applyLatest(id); // the opening time and capacity, before anyone joins
    await ctx.fairness.ensure(id); // the draw's commitment, published before opening
    res.status(201).location(`/api/performances/${id}`).json({ id });
  });

  r.get('/performances', async (_req, res) => {
    res.json({ items: await ctx.catalogue.list() });
  });

  r.get('/performances/:id', async (req, res) => {
    res.json(await ctx.catalogue.get(pathId(req.params, 'id')));
  });

  r.get('/performances/:id/seats', member, async (req, res) => {
    const id = pathId(req.params, 'id');
    const { zone } = parse(seatsQuery, req.query, 'query');
    await admitted(id, who(req).memberId);
    res.json(await ctx.catalogue.seats(id, zone));
  });

  // Server-sent events: every committed seat change, in commit order, replayable by Last-Event-ID.
  r.get('/performances/:id/seats/events', tokenFromQuery, member, async (req, res) => {
    const id = pathId(req.params, 'id');
    await ctx.catalogue.info(id);
    const from = parse(lastEventId, req.headers['last-event-id'] ?? req.query['lastEventId'], 'headers');
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    const client: SeatEventClient = {
      memberId: who(req).memberId,
      lastSent: 0,
      live: false,
      pending: [],
      closed: false,
      write: (chunk) => void res.write(chunk),
      buffered: () => res.writableLength,
      end: () => res.destroy(),
    };
    hub.admit(client); // 429 when the member or this process has enough streams
    res.on('close', () => hub.remove(id, client));
    if (res.closed || req.destroyed) client.closed = true;
    // The first bytes go out only once the client is registered: nothing committed after the
    // client sees the stream open can be missed.
    await hub.add(id, client, from);
    res.write('retry: 2000\n\n');
  });

  return r;
}
