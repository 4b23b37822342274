import test, { type ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { QueryTypes } from 'sequelize';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { freePort } from './helpers/servers.js';
import { assertHoldRun } from './helpers/checks.js';
import { Hold, HoldRequest } from '../shared/db/models/index.js';

// Invariant 9, with the default lock settings: a worker that dies or freezes while it holds a
// performance stops it for at most 5 s, and one that wakes applies nothing. Worker processes are
// real OS processes (killed, stopped and continued with signals); the API runs in the test.

/** Hold requests at a steady rate, one in ten for a seat asked for earlier (a race for it). */
class Load {
  readonly accepted: { requestId: number; token: string }[] = [];
  readonly answers: { at: number; status: number; ms: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<void>>();
  private n = 0;

  constructor(
    private readonly stack: Stack,
    private readonly performanceId: number,
    private readonly seatIds: number[],
    private readonly members: TestMember[],
  ) {}

  start(perSecond: number): void {
    this.timer = setInterval(() => {
      const i = this.n++;
      const seat =
        i % 10 === 9 ? this.seatIds[(i * 7) % Math.max(1, i)]! : this.seatIds[i % this.seatIds.length]!;
      const m = this.members[i % this.members.length]!;
      const started = Date.now();
      const p = this.stack
        .http<{ requestId: number }>('POST', `/api/performances/${this.performanceId}/holds`, {
          token: m.token,
          body: { seatIds: [seat] },
        })
        .then(
          (r) => {
            this.answers.push({ at: started, status: r.status, ms: Date.now() - started });
            if (r.status === 202) this.accepted.push({ requestId: r.body.requestId, token: m.token });
          },
          () => void this.answers.push({ at: started, status: 0, ms: Date.now() - started }),
        )
        .finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }, 1000 / perSecond);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await Promise.all(this.inFlight);
  }
}

async function fenceOf(stack: Stack, performanceId: number) {
  const [row] = await stack.ctx.sequelize.query<{ appliedSeq: number; holder: string }>(
    'SELECT applied_seq AS appliedSeq, holder FROM commit_fences WHERE performance_id = ?',
    { type: QueryTypes.SELECT, replacements: [performanceId] },
  );
  return { appliedSeq: Number(row?.appliedSeq ?? 0), holder: String(row?.holder ?? '') };
}

/** The pid in a holder's name (`host:pid:random`). */
const pidOf = (holder: string) => Number(holder.split(':').at(-2));

function ended(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
}

/** The process state letter of /proc/<pid>/stat (`T`: stopped). */
function stateOf(pid: number): string {
  return /\) (\w)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? '?';
}

/** Every accepted request final, each exactly once and in enqueue order. */
async function assertAllApplied(
  t: ExecutionContext,
  stack: Stack,
  performanceId: number,
  accepted: { requestId: number; token: string }[],
) {
  await Promise.all(accepted.map((r) => stack.settle(r.token, r.requestId, 60_000)));
  await assertHoldRun(t, stack, performanceId, accepted.length);
  const succeeded = await HoldRequest.count({ where: { performanceId, status: 'succeeded' } });
  t.is(await Hold.count({ where: { performanceId } }), succeeded, 'no request applied twice');
}

async function setUp(stack: Stack) {
  const { performanceId, seatIds } = await stack.performance(120);
  const members = await stack.members(40);
  await Promise.all(members.map((m) => stack.admit(m.token, performanceId)));
  return { performanceId, seatIds, members };
}

test.serial(
  'when the worker holding a performance is SIGKILLed, then another commits within 5 s and every request is applied once, in order',
  async (t) => {
    const stack = await Stack.start({ workers: 0 });
    t.teardown(() => stack.close());
    const workers = await Promise.all([stack.spawnWorker(), stack.spawnWorker()]);
    const { performanceId, seatIds, members } = await setUp(stack);
    const load = new Load(stack, performanceId, seatIds, members);
    load.start(50);
    await eventually(async () => (await fenceOf(stack, performanceId)).appliedSeq > 30, 20_000);
    const holder = (await fenceOf(stack, performanceId)).holder;
    const victim = workers.find((w) => w.pid === pidOf(holder));
    t.truthy(victim, 'the holder is one of the two worker processes');
    const killedAt = Date.now();
    victim!.kill('SIGKILL');
    t.is(await ended(victim!), 'SIGKILL');
    const atDeath = (await fenceOf(stack, performanceId)).appliedSeq;
    const resumedAt = await eventually(
      async () => (await fenceOf(stack, performanceId)).appliedSeq > atDeath && Date.now(),
      20_000,
      20,
    );
    t.log(`commits resumed ${resumedAt - killedAt} ms after the kill`);
    t.true(resumedAt - killedAt <= 5000, `the performance stopped ${resumedAt - killedAt} ms (at most 5 s)`);
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();
    t.deepEqual(
      load.answers.filter((a) => a.status !== 202),
      [],
      'every hold was accepted',
    );
    await assertAllApplied(t, stack, performanceId, load.accepted);
  },
);

test.serial(
  'when the holder freezes inside its batch transaction, then the API keeps accepting, another worker commits within 5 s, and the woken one applies nothing',
  async (t) => {
    const stack = await Stack.start({ workers: 0 });
    t.teardown(() => stack.close());
    // The survivor is stopped while the load starts, so that the worker with the fault takes the
    // first batch; it continues as soon as that one froze.
    const metricsPort = await freePort();
    const [survivor, frozen] = await Promise.all([
      stack.spawnWorker(),
      stack.spawnWorker({ FAULT_INJECTION: 'stop-before-commit', WORKER_METRICS_PORT: String(metricsPort) }),
    ]);
    t.teardown(() => survivor.kill('SIGCONT'));
    t.teardown(() => frozen.kill('SIGCONT'));
    const { performanceId, seatIds, members } = await setUp(stack);
    survivor.kill('SIGSTOP');
    const load = new Load(stack, performanceId, seatIds, members);
    load.start(50);
    await eventually(async () => stateOf(frozen.pid!) === 'T', 20_000, 10);
    const frozenAt = Date.now();
    survivor.kill('SIGCONT');
    t.is((await fenceOf(stack, performanceId)).appliedSeq, 0, 'the frozen batch has not committed');

    const resumedAt = await eventually(
      async () => (await fenceOf(stack, performanceId)).appliedSeq > 0 && Date.now(),
      30_000,
      20,
    );
    t.log(`another worker committed ${resumedAt - frozenAt} ms after the freeze`);
    t.true(resumedAt - frozenAt <= 5000, `the performance stopped ${resumedAt - frozenAt} ms (at most 5 s)`);
    t.is(pidOf((await fenceOf(stack, performanceId)).holder), survivor.pid!, 'the survivor holds it');

    // Accepting never waited on the frozen worker.
    await new Promise((r) => setTimeout(r, Math.max(0, frozenAt + 6000 - Date.now())));
    await load.stop();
    const during = load.answers.filter((a) => a.at >= frozenAt);
    t.true(during.length > 50, `${during.length} holds sent during the freeze`);
    t.deepEqual(
      during.filter((a) => a.status !== 202),
      [],
      'every hold sent during the freeze was accepted',
    );
    t.log(`slowest answer during the freeze: ${Math.max(...during.map((a) => a.ms))} ms`);
    await assertAllApplied(t, stack, performanceId, load.accepted);
    const fence = await fenceOf(stack, performanceId);

    // The frozen worker wakes: its transaction was ended, and it is no longer the holder.
    frozen.kill('SIGCONT');
    const metrics = await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).catch(() => undefined);
      return r?.ok ? r.text() : undefined;
    }, 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then((r) => r.text());
    const batches = (text: string) => Number(/^seat_batch_jobs_count (\d+)/m.exec(text)?.[1] ?? NaN);
    t.is(batches(metrics), 0, 'the woken worker committed no batch');
    t.is(batches(after), 0, 'nor later');
    t.deepEqual(await fenceOf(stack, performanceId), fence, 'the fence did not move');
    const succeeded = await HoldRequest.count({ where: { performanceId, status: 'succeeded' } });
    t.is(await Hold.count({ where: { performanceId } }), succeeded, 'still no request applied twice');
  },
);
