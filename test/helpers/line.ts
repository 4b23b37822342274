import type { ExecutionContext } from 'ava';
import type { Stack } from './stack.js';
import { registry } from '../../shared/metrics.js';
import type { WaitingStatus } from '../../shared/waiting-room/waiting-room.js';
import { EXACT_WINDOW } from '../../shared/waiting-room/pace.js';

async function viewReads(): Promise<number> {
  const m = (await registry.getSingleMetric('waiting_room_status_reads_total')?.get())?.values ?? [];
  return m.filter((v) => v.labels['answered_from'] === 'view').reduce((a, v) => a + v.value, 0);
}

/**
 * A line longer than the exact window, read by members spread over it through every API process of
 * the stack (alternating), while admitted members finish at once so the line moves fast: no
 * position may rise, admission must follow ticket order within the capacity, and the API processes
 * must answer far-back members from their view of the line.
 */
export async function assertLineMoves(t: ExecutionContext, stack: Stack): Promise<void> {
  const capacity = 25;
  const { performanceId } = await stack.performance(10, capacity);
  const n = EXACT_WINDOW + 400;
  const members = await stack.members(n);
  const path = `/api/performances/${performanceId}/waiting`;
  const base = (i: number) => stack.apis[i % stack.apis.length]!.url;
  const join = (i: number) =>
    stack.http<WaitingStatus>('POST', path, { token: members[i]!.token, base: base(i) });
  const read = (token: string, i: number) => stack.http<WaitingStatus>('GET', path, { token, base: base(i) });
  const leave = (token: string) => stack.http('DELETE', path, { token });
  for (let i = 0; i < n; i += 200)
    await Promise.all(members.slice(i, i + 200).map(async (_, j) => t.is((await join(i + j)).status, 200)));
  const viewBefore = await viewReads();
  // Admitted members finish at once, so the line moves fast (the ticker and the leaves admit).
  const keys = stack.ctx.waitingRoom.keys(performanceId);
  const admittedEver = new Set<number>();
  const outOfOrder: string[] = [];
  let maxAdmitted = 0;
  let stop = false;
  const byId = new Map(members.map((m) => [m.id, m]));
  const drain = (async () => {
    while (!stop) {
      // One atomic look: every admitted member's ticket lies below every waiting member's.
      const r = await stack.ctx.redis
        .multi()
        .zrange(keys.line, 0, 0, 'WITHSCORES')
        .hgetall(keys.tickets)
        .exec();
      const first = r?.[0]?.[1] as string[];
      const admitted = Object.entries(r?.[1]?.[1] as Record<string, string>).map(([id, tk]) => [
        Number(id),
        Number(tk),
      ]);
      maxAdmitted = Math.max(maxAdmitted, admitted.length);
      for (const [id, tk] of admitted) {
        admittedEver.add(id!);
        if (first.length && tk! > Number(first[1]))
          outOfOrder.push(`ticket ${tk} admitted before ${first[1]}`);
      }
      await Promise.all(admitted.slice(0, 10).map(([id]) => leave(byId.get(id!)!.token)));
      await new Promise((r) => setTimeout(r, 60));
    }
  })();
  // Readers spread over the whole line, each alternating between the two API processes.
  const readers = members.filter((_, i) => i % 23 === 0 || i >= n - 30);
  const rises: string[] = [];
  // Until the line has moved well past the exact window's edge (or a generous time is up).
  const deadline = Date.now() + 60_000;
  const moved = () => admittedEver.size >= 700 || Date.now() > deadline;
  await Promise.all(
    readers.map(async (m, i) => {
      let last = Infinity;
      for (let api = i; !moved(); api++) {
        const r = await read(m.token, api);
        if (r.status === 404) return; // admitted and finished
        if (r.status !== 200) return void rises.push(`member ${m.id}: answered ${r.status}`);
        const s = r.body;
        if (s.position > last) rises.push(`member ${m.id}: ${last} -> ${s.position}`);
        last = s.position;
        if (s.status === 'admitted') return;
        await new Promise((r) => setTimeout(r, 100 + (i % 7) * 10));
      }
    }),
  );
  stop = true;
  await drain;
  t.deepEqual(rises, [], 'no position ever rose');
  t.deepEqual(outOfOrder, [], 'admitted in ticket order');
  t.true(maxAdmitted <= capacity, `never above capacity (saw ${maxAdmitted})`);
  t.true(admittedEver.size >= 700, `the line moved (${admittedEver.size} admitted)`);
  t.true((await viewReads()) > viewBefore, 'far-back members were answered from the view, without Redis');
}
