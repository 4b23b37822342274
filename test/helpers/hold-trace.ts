import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, Stack, eventually } from './stack.js';
import { startOtlpReceiver, type ReceivedSpan } from '../../shared/testing/otlp-receiver.js';

// One hold, followed through two OS processes (the API and a worker, each started with the tracing
// preload), exported over OTLP/HTTP JSON to a receiver in the test process.

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

export type Launch = { args: (kind: 'api' | 'workers') => string[] };

/** Through tsx, as `npm run start:api` runs it. */
export const viaTsx: Launch = {
  args: (kind) => ['--import', 'tsx', '--import', './shared/tracing/preload.ts', `${kind}/main.ts`],
};
/** Compiled, as the Docker image runs it. */
export const compiled: Launch = {
  args: (kind) => ['--import', './dist/shared/tracing/preload.js', `dist/${kind}/main.js`],
};

type Child = { child: ChildProcess; out: () => string };

/** Starts a service process; resolves once its output matches `ready`. */
export function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<Child> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve({ child, out: () => out });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${out}`)));
  });
}

/** The environment of a traced service process: OTLP/HTTP JSON to `receiver`, exported every 100 ms. */
export function tracedEnv(
  stack: Stack,
  receiver: { url: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...stack.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    LOG_LEVEL: 'info',
    ...extra,
  };
}

/** Holds one seat through the API at `base` for a new admitted member; checks its 202 and success. */
export async function holdOneSeat(
  t: ExecutionContext,
  stack: Stack,
  base: string,
  performanceId: number,
  seatId: number,
): Promise<{ token: string }> {
  const [m] = await stack.members(1);
  await stack.admit(m!.token, performanceId, 15_000);
  const hold = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
    token: m!.token,
    body: { seatIds: [seatId] },
    base,
  });
  t.is(hold.status, 202, JSON.stringify(hold.body));
  const done = await stack.settle(m!.token, Number(hold.body['requestId']));
  t.is(done['status'], 'succeeded');
  return { token: m!.token };
}

/**
 * Holds a seat through a traced API and worker and checks the trace: the API's HTTP span, the
 * enqueue, the worker's consumer and batch spans and the commit's MySQL span share one trace id,
 * as do a problem answer and the log line of its request.
 */
export async function checkHoldTrace(t: ExecutionContext, launch: Launch): Promise<void> {
  const receiver = await startOtlpReceiver();
  const stack = await Stack.start({ workers: 0 });
  const children: ChildProcess[] = [];
  try {
    const env = tracedEnv(stack, receiver, { LOG_LEVEL: 'debug' });
    const api = await start(launch.args('api'), env, /api listening/);
    children.push(api.child);
    const base = /"url":"(http:[^"]+)"/.exec(api.out())![1]!;
    const worker = await start(launch.args('workers'), env, /workers started/);
    children.push(worker.child);

    const { performanceId, seatIds } = await stack.performance(12);
    const m = await holdOneSeat(t, stack, base, performanceId, seatIds[0]!);

    const request = await eventually(
      async () =>
        receiver.spans.find(
          (s) =>
            s.kind === SERVER &&
            s.attributes['http.request.method'] === 'POST' &&
            String(s.attributes['url.path'] ?? '').endsWith(`/api/performances/${performanceId}/holds`),
        ),
      15_000,
    );
    t.is(request.service, 'ticketing-api');
    t.is(request.name, 'POST /api/performances/:id/holds');
    const inTrace = (what: string, pick: (s: ReceivedSpan) => boolean) =>
      eventually(
        async () => receiver.spans.find((s) => s.traceId === request.traceId && pick(s)),
        15_000,
      ).catch(() => {
        const names = receiver.spans
          .filter((s) => s.traceId === request.traceId)
          .map((s) => `${s.name} (${s.spanId} under ${s.parentSpanId ?? '-'})`);
        throw new Error(`no ${what} span in the hold's trace, which has: ${names.join(', ')}`);
      });
    const enqueue = await inTrace('enqueue', (s) => s.kind === PRODUCER);
    t.is(enqueue.service, 'ticketing-api');
    const consumer = await inTrace('consumer', (s) => s.kind === CONSUMER);
    t.is(consumer.service, 'ticketing-workers');
    t.is(consumer.parentSpanId, enqueue.spanId, 'the worker continues the enqueue');
    const batch = await inTrace('batch', (s) => s.name === 'seat.batch');
    t.is(batch.service, 'ticketing-workers');
    t.is(batch.parentSpanId, consumer.spanId);
    t.true(
      batch.links.some((l) => l.spanId === enqueue.spanId),
      'the batch links the job it applied',
    );
    // The batch's own COMMIT (a worker taking the performance over commits its claim first, under
    // the consumer span: that COMMIT is not the batch's).
    const commit = await inTrace(
      'COMMIT under the batch',
      (s) =>
        /^COMMIT/i.test(String(s.attributes['db.query.text'] ?? s.name)) && s.parentSpanId === batch.spanId,
    );
    t.is(commit.service, 'ticketing-workers');
    t.is(commit.parentSpanId, batch.spanId, 'the commit is the batch’s');
    const announce = await inTrace('after-commit', (s) => s.name === 'seat.after-commit');
    t.is(announce.parentSpanId, batch.spanId);
    await inTrace('announcement', (s) => s.parentSpanId === announce.spanId);

    // Concurrent holds keep their own Redis calls: the API pipelines the commands issued in one
    // tick into one write, and each command's span stays in the trace of the request that issued it.
    const others = await stack.members(8);
    await Promise.all(others.map((o) => stack.admit(o.token, performanceId, 15_000)));
    const before = new Set(receiver.spans.filter((s) => s.kind === SERVER).map((s) => s.spanId));
    const holds = await Promise.all(
      others.map((o, i) =>
        stack.http('POST', `/api/performances/${performanceId}/holds`, {
          token: o.token,
          body: { seatIds: [seatIds[i + 1]] },
          base,
        }),
      ),
    );
    t.deepEqual(
      holds.map((h) => h.status),
      others.map(() => 202),
    );
    const servers = await eventually(async () => {
      const found = receiver.spans.filter(
        (s) =>
          s.kind === SERVER &&
          !before.has(s.spanId) &&
          s.attributes['http.request.method'] === 'POST' &&
          String(s.attributes['url.path'] ?? '').endsWith(`/api/performances/${performanceId}/holds`),
      );
      return found.length === others.length ? found : undefined;
    }, 15_000);
    const redisCalls = servers.map(
      (server) =>
        receiver.spans.filter(
          (s) =>
            s.traceId === server.traceId &&
            s.service === 'ticketing-api' &&
            s.kind === CLIENT &&
            s.attributes['db.system.name'] === 'redis',
        ).length,
    );
    t.true(redisCalls[0]! > 0, 'a hold’s Redis calls are in its trace');
    t.deepEqual(
      redisCalls,
      servers.map(() => redisCalls[0]),
      'every concurrent hold has its own Redis calls, none another’s',
    );

    // A problem answer names its trace, and so does the log line of its request.
    const bad = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
      token: m.token,
      body: { seatIds: [] },
      base,
    });
    t.is(bad.status, 400);
    const traceId = String(bad.body['traceId']);
    t.regex(traceId, /^[0-9a-f]{32}$/);
    await eventually(async () =>
      receiver.spans.some((s) => s.traceId === traceId && s.kind === SERVER),
    ).catch(() => t.fail('the problem’s trace was exported'));
    await eventually(async () => api.out().includes(`"traceId":"${traceId}"`)).catch(() =>
      t.fail('the problem’s trace id is in a log line of the API'),
    );
    t.pass('the problem’s trace id is in the API’s log');
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await stack.close();
    await receiver.close();
  }
}
