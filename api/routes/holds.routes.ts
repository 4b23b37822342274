import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { bestRequestSchema } from '../../shared/queues/jobs.js';
import { idempotencyKeySchema, paymentSchema, type Accepted } from '../../shared/holds/requests.service.js';
import { who } from '../middlewares/auth.js';
import { parse } from '../middlewares/validate.js';
import { capWaits, waitsInQuery } from '../middlewares/wait-cap.js';
import { pathId, waitSecondsQuery } from './params.js';
import type { ApiDeps } from '../deps.js';

/** Exactly one of: the seats named, or best available (the worker picks at the request's turn). */
export const holdBody = z.union([
  z.strictObject({ seatIds: z.array(z.number().int().positive()).min(1) }),
  z.strictObject({ best: bestRequestSchema }),
]);
// Strict at every level: an unknown field is 400 on every route (contract §2).
export const confirmBody = z.strictObject({ payment: z.strictObject(paymentSchema.shape) });
export const waitQuery = waitSecondsQuery(10);

/**
 * `Prefer: wait=N` (RFC 7240): the client would rather wait up to N seconds (at most 10) for the
 * final status than poll for it. A preference is a hint: a malformed one is ignored.
 */
function preferWait(req: Request): number {
  const m = /(?:^|[,;\s])wait=(\d{1,3})(?:$|[,;\s])/i.exec(String(req.headers['prefer'] ?? ''));
  return m ? Math.min(10, Number(m[1])) : 0;
}

/** 202 with where to poll; or, when the request became final within the preferred wait, 200 with it. */
function answer(res: Response, out: Accepted, body: Record<string, unknown>, wait: number): void {
  res.location(`/api/requests/${out.requestId}`);
  if (out.final) {
    res.setHeader('Preference-Applied', `wait=${wait}`);
    res.status(200).json(out.final);
  } else res.status(202).json(body);
}

function idempotencyKey(req: Request): string | undefined {
  const key = req.headers['idempotency-key'];
  return key === undefined ? undefined : parse(idempotencyKeySchema, key, 'headers');
}

export function holdRoutes({ requests, member, admitted, waits }: ApiDeps): Router {
  const r = Router();
  const preferring = capWaits(waits, (req) => preferWait(req) > 0);

  r.post('/performances/:id/holds', member, preferring, async (req, res) => {
    const performanceId = pathId(req.params, 'id');
    const body = parse(holdBody, req.body, 'body');
    const key = idempotencyKey(req);
    await admitted(performanceId, who(req).memberId);
    const wait = preferWait(req);
    const out = await requests.hold(
      who(req).memberId,
      performanceId,
      'best' in body ? body : body.seatIds,
      key,
      wait,
    );
    const { requestId, status, position } = out;
    answer(res, out, { requestId, status, ...(position !== undefined ? { position } : {}) }, wait);
  });

  r.post('/holds/:holdId/confirm', member, preferring, async (req, res) => {
    const { payment } = parse(confirmBody, req.body, 'body');
    const key = idempotencyKey(req);
    const hold = await requests.ownHold(who(req).memberId, pathId(req.params, 'holdId'));
    await admitted(hold.performanceId, who(req).memberId);
    const wait = preferWait(req);
    const out = await requests.confirm(who(req).memberId, hold, payment, key, wait);
    answer(res, out, { requestId: out.requestId }, wait);
  });

  r.delete('/holds/:holdId', member, preferring, async (req, res) => {
    const key = idempotencyKey(req);
    const hold = await requests.ownHold(who(req).memberId, pathId(req.params, 'holdId'));
    const wait = preferWait(req);
    const out = await requests.release(who(req).memberId, hold, key, wait);
    answer(res, out, { requestId: out.requestId }, wait);
  });

  r.get('/requests/:requestId', member, capWaits(waits, waitsInQuery), async (req, res) => {
    const { waitSeconds } = parse(waitQuery, req.query, 'query');
    res.json(await requests.get(who(req).memberId, pathId(req.params, 'requestId'), waitSeconds ?? 0));
  });

  r.get('/me/holds', member, async (req, res) => {
    res.json({ items: await requests.holdViews(who(req).memberId) });
  });

  r.get('/me/tickets', member, async (req, res) => {
    res.json({ items: await requests.tickets(who(req).memberId) });
  });

  return r;
}
