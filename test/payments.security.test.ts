import test from 'ava';
import { randomBytes } from 'node:crypto';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { HoldRequest, Payment, SeatGrade } from '../shared/db/models/index.js';
import { MAX_PAYMENT_AMOUNT } from '../shared/holds/requests.service.js';

// A slow gateway (so that concurrent confirms overlap) and a short orphan age (so the sweeper acts
// within a test).
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({
    workers: 1,
    env: { PAYMENT_LATENCY_MS: '150', PAYMENT_ORPHAN_SECONDS: '2', SWEEP_INTERVAL_SECONDS: '1' },
  });
});
test.after.always(async () => stack?.close());

type Final = { status: string; hold?: { id: number } };

async function heldSeats(n = 1): Promise<{ m: TestMember; holdId: number; performanceId: number }> {
  const { performanceId, seatIds } = await stack.performance(4);
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId);
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m!.token,
    body: { seatIds: seatIds.slice(0, n) },
  });
  const held = (await stack.settle(m!.token, r.body.requestId)) as Final;
  return { m: m!, holdId: held.hold!.id, performanceId };
}

/** Every authorisation of a hold, as the provider's ledger has it. */
async function ledgerOf(holdId: number) {
  const rows = await Payment.findAll({ where: { holdId }, order: [['id', 'ASC']] });
  return Promise.all(
    rows.map(async (p) => ({
      row: p.status,
      ledger: (await stack.ctx.payments.ledger(p.authorizationId))?.status,
      authorizationId: p.authorizationId,
    })),
  );
}

/** A trigger that makes MySQL refuse one statement on one table for one hold (a scoped fault). */
async function refuse(table: 'payments' | 'hold_requests', event: 'INSERT' | 'UPDATE', holdId: number) {
  const name = `t_refuse_${randomBytes(4).toString('hex')}`;
  await stack.ctx.sequelize.query(
    `CREATE TRIGGER ${name} BEFORE ${event} ON ${table} FOR EACH ROW
       IF NEW.hold_id = ${Number(holdId)} THEN
         SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused by test';
       END IF`,
  );
  return () => stack.ctx.sequelize.query(`DROP TRIGGER IF EXISTS ${name}`);
}

test('when two confirms with the same Idempotency-Key arrive together, then one authorisation is made and it is captured', async (t) => {
  const { m, holdId } = await heldSeats();
  const confirm = () =>
    stack.http<{ requestId: number }>('POST', `/api/holds/${holdId}/confirm`, {
      token: m.token,
      body: { payment: { method: 'card', token: 'approve-twin' } },
      headers: { 'Idempotency-Key': 'pay-once' },
    });
  const [a, b] = await Promise.all([confirm(), confirm()]);
  t.true([a.status, b.status].includes(202), `${a.status} ${b.status}`);
  for (const r of [a, b]) t.true(r.status === 202 || r.status === 409, `status ${r.status}`);
  const accepted = a.status === 202 ? a : b;
  const final = (await stack.settle(m.token, accepted.body.requestId)) as Final;
  t.is(final.status, 'succeeded');
  const ledger = await eventually(async () => {
    const l = await ledgerOf(holdId);
    return l.every((p) => p.ledger !== 'authorized') && l;
  });
  t.is(ledger.length, 1, 'one key authorises once');
  t.like(ledger[0], { row: 'captured', ledger: 'captured' });
  t.is(await HoldRequest.count({ where: { holdId, kind: 'confirm' } }), 1);
});

test.serial('when the payment row fails to insert, then the authorisation is voided', async (t) => {
  const { m, holdId } = await heldSeats();
  const undo = await refuse('payments', 'INSERT', holdId);
  t.teardown(undo);
  const before = new Set((await stack.ctx.redis.keys(`${stack.config.keyPrefix}:payments-sim:*`)).sort());
  const r = await stack.http('POST', `/api/holds/${holdId}/confirm`, {
    token: m.token,
    body: { payment: { method: 'card', token: 'approve-insert' } },
  });
  t.true(r.status >= 500, 'the failure is reported');
  const fresh = (await stack.ctx.redis.keys(`${stack.config.keyPrefix}:payments-sim:*`)).filter(
    (k) => !before.has(k),
  );
  t.is(fresh.length, 1, 'the gateway authorised once');
  const id = fresh[0]!.split(':payments-sim:')[1]!;
  t.is((await stack.ctx.payments.ledger(id))?.status, 'voided');
  t.is(await HoldRequest.count({ where: { holdId, kind: 'confirm' } }), 0, 'nothing enqueued');
});

test('when the enqueue fails and MySQL refuses the payment update too, then the gateway is voided and the sweeper settles the row', async (t) => {
  const { m, holdId } = await heldSeats();
  const undoInsert = await refuse('hold_requests', 'INSERT', holdId);
  const undoUpdate = await refuse('payments', 'UPDATE', holdId);
  t.teardown(async () => {
    await undoInsert();
    await undoUpdate();
  });
  const r = await stack.http('POST', `/api/holds/${holdId}/confirm`, {
    token: m.token,
    body: { payment: { method: 'card', token: 'approve-enqueue' } },
  });
  t.true(r.status >= 500);
  const [p] = await ledgerOf(holdId);
  t.is(p?.ledger, 'voided', 'voided at the provider although MySQL refused');
  t.is(p?.row, 'authorized');
  await undoUpdate();
  await undoInsert();
  await eventually(async () => (await ledgerOf(holdId))[0]?.row === 'voided', 10_000);
  t.pass();
});

test('when an authorised payment is left without a confirm (a crash in between), then the sweeper voids it', async (t) => {
  const { m, holdId } = await heldSeats();
  const auth = await stack.ctx.payments.authorize({ amount: 1, method: 'card', token: 'approve-orphan' });
  if (!auth.ok) return t.fail('not authorised');
  await Payment.create({
    authorizationId: auth.authorizationId,
    holdId,
    memberId: m.id,
    amount: 1,
    method: 'card',
    status: 'authorized',
  });
  await eventually(async () => (await stack.ctx.payments.ledger(auth.authorizationId))?.status === 'voided');
  t.is((await Payment.findOne({ where: { authorizationId: auth.authorizationId } }))?.status, 'voided');
});

test('when a hold costs more than a payment may carry, then 400 and nothing is authorised', async (t) => {
  const { performanceId, seatIds } = await stack.performance(4);
  await SeatGrade.update({ price: 9_999_999_999 }, { where: { performanceId } });
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId);
  const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: m!.token,
    body: { seatIds: seatIds.slice(0, 2) },
  });
  const held = (await stack.settle(m!.token, r.body.requestId)) as Final;
  t.true(2 * 9_999_999_999 > MAX_PAYMENT_AMOUNT);
  const c = await stack.http('POST', `/api/holds/${held.hold!.id}/confirm`, {
    token: m!.token,
    body: { payment: { method: 'card', token: 'approve-big' } },
  });
  t.is(c.status, 400);
  t.is(c.body['code'], 'validation-failed');
  t.is(await Payment.count({ where: { holdId: held.hold!.id } }), 0);
});
