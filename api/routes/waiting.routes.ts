import { Router, type Response } from 'express';
import { NotFoundError } from '../../shared/errors.js';
import type { WaitingStatus } from '../../shared/waiting-room/waiting-room.js';
import { LINE_WAIT_MAX_SECONDS } from '../../shared/waiting-room/pace.js';
import { who } from '../middlewares/auth.js';
import { parse } from '../middlewares/validate.js';
import { capWaits, waitsInQuery } from '../middlewares/wait-cap.js';
import { pathId, waitSecondsQuery } from './params.js';
import type { ApiDeps } from '../deps.js';

export const lineWaitQuery = waitSecondsQuery(LINE_WAIT_MAX_SECONDS);

const notInLine = () =>
  new NotFoundError('not-in-line', 'You are not in this waiting room; join it with POST.');

/** The status, with its pace also as `Retry-After` (RFC 9110) for clients that read only headers. */
function answer(res: Response, s: WaitingStatus): void {
  res.setHeader('Retry-After', String(s.nextPollSeconds));
  // In a shuffle-at-open pre-queue there is no place yet: `drawAt` instead of a position.
  const { position, ...drawn } = s;
  res.json(s.drawAt ? drawn : { ...drawn, position });
}

export function waitingRoutes({ ctx, member, lineReader, line, waits }: ApiDeps): Router {
  const r = Router();

  r.post('/performances/:id/waiting', member, async (req, res) => {
    const { id, capacity } = await ctx.catalogue.info(pathId(req.params, 'id'));
    answer(res, await line.join(id, who(req).memberId, capacity, () => ctx.catalogue.stockState(id)));
  });

  // The line's hot read: counted against a per-process limit, so that a member far back costs no
  // Redis round trip at all (see LineView); `waitSeconds` holds the answer until admitted or sold out.
  r.get('/performances/:id/waiting', lineReader, capWaits(waits, waitsInQuery), async (req, res) => {
    const { waitSeconds } = parse(lineWaitQuery, req.query, 'query');
    const { id, capacity } = await ctx.catalogue.info(pathId(req.params, 'id'));
    const memberId = who(req).memberId;
    let s = await line.status(id, memberId, capacity);
    if (s && s.status === 'waiting' && waitSeconds) {
      const gone = new AbortController();
      res.on('close', () => gone.abort());
      await line.waitForTurn(id, s.ticket, waitSeconds * 1000, gone.signal);
      if (gone.signal.aborted && res.destroyed) return;
      s = await line.status(id, memberId, capacity);
    }
    if (!s) throw notInLine();
    answer(res, s);
  });

  r.delete('/performances/:id/waiting', member, async (req, res) => {
    const { id } = await ctx.catalogue.info(pathId(req.params, 'id'));
    await line.leave(id, who(req).memberId);
    res.status(204).end();
  });

  return r;
}
