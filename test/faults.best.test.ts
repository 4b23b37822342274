import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { Stack } from './helpers/stack.js';
import { seedPerformance } from '../shared/testing/seed.js';
import { Hold, HoldRequest, HoldSeat, Seat } from '../shared/db/models/index.js';
import { SeatLayout, SeatStock, type BestRequest } from '../shared/domain/best-available.js';
import { committedSeatEvents } from './helpers/checks.js';

function ended(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

test.serial(
  'when a worker is SIGKILLed in the middle of a batch of best-available holds, then another applies each once, with the seats a replay in queue order gives',
  async (t) => {
    const stack = await Stack.start({ workers: 0 });
    t.teardown(() => stack.close());
    // Block 101: rows A and B of 30 seats.
    const { performanceId } = await seedPerformance(stack.ctx.catalogue, 60, {
      name: `test ${stack.config.keyPrefix}`,
      admissionCapacity: 100_000,
      layout: 'stadium',
    });
    const members = await stack.members(40);
    await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
    const asks: BestRequest[] = members.map((_, i) => ({ count: 1 + (i % 3), together: true }));
    const requests: { token: string; requestId: number }[] = [];
    for (const [i, m] of members.entries()) {
      const r = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
        token: m.token,
        body: { best: asks[i] },
      });
      t.is(r.status, 202);
      requests.push({ token: m.token, requestId: r.body.requestId });
    }
    const victim = await stack.spawnWorker({ FAULT_INJECTION: 'kill-before-commit' }, { ready: false });
    t.is(await ended(victim), 'SIGKILL', 'the worker died in the middle of its batch');
    t.is(await HoldRequest.count({ where: { performanceId, status: ['succeeded', 'rejected'] } }), 0);
    await stack.spawnWorker();
    const finals = await Promise.all(requests.map((r) => stack.settle(r.token, r.requestId, 60_000)));

    // The replay: the same requests one at a time, in queue order, on the empty layout.
    const seats = await Seat.findAll({ where: { performanceId }, raw: true });
    const layout = new SeatLayout(
      seats.map((s) => ({ id: s.id, zoneId: s.zoneId, gradeId: s.gradeId, row: s.row, number: s.number })),
    );
    const stock = SeatStock.of(layout, () => 'available');
    const rows = await HoldRequest.findAll({ where: { performanceId }, order: [['queueSeq', 'ASC']] });
    t.is(rows.length, 40);
    for (const row of rows) {
      const i = requests.findIndex((r) => r.requestId === row.id);
      const picked = stock.pick(asks[i]!);
      const hold = await Hold.findOne({ where: { requestId: row.id } });
      if (!picked.ok) {
        t.is(row.status, 'rejected');
        t.is(row.reason, picked.reason);
        t.is(hold, null);
        continue;
      }
      picked.seatIds.forEach((id) => stock.set(id, 'held'));
      t.is(row.status, 'succeeded', `request ${row.id}`);
      const held = (await HoldSeat.findAll({ where: { holdId: hold!.id }, raw: true })).map((h) => h.seatId);
      t.deepEqual(held.sort(), [...picked.seatIds].sort(), `request ${row.id} holds the replay's seats`);
      t.deepEqual(
        ((finals[i]!['hold'] as { seatIds: number[] }).seatIds ?? []).sort(),
        [...picked.seatIds].sort(),
        'the answer names them',
      );
    }
    t.is(await Hold.count({ where: { performanceId } }), rows.filter((r) => r.status === 'succeeded').length);
    const events = await committedSeatEvents(performanceId);
    t.deepEqual(
      events.map((e) => e.id),
      events.map((_, i) => i + 1),
      'seat events numbered without a gap or a repeat',
    );
  },
);
