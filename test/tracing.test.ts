import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT, Stack, eventually } from './helpers/stack.js';
import { startOtlpReceiver, type ReceivedSpan } from '../shared/testing/otlp-receiver.js';

// One hold, followed through two OS processes (the API and a worker, each with the SDK loaded by
// `--import ./shared/tracing/preload.ts`), exported over OTLP/HTTP JSON to a receiver in this test.

const SERVER = 2;
const PRODUCER = 4;
const CONSUMER = 5;

type Child = { child: ChildProcess; out: () => string };

function startTraced(entry: string, env: Record<string, string>, ready: RegExp): Promise<Child> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './shared/tracing/preload.ts', entry],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) resolve({ child, out: () => out });
    });
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}: ${out}`)));
  });
}

test('when tracing is on, then a hold is one trace from the API request through the queue to the commit', async (t) => {
  const receiver = await startOtlpReceiver();
  const stack = await Stack.start({ workers: 0 });
  const children: ChildProcess[] = [];
  try {
    const env = {
      ...stack.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      LOG_LEVEL: 'debug',
    };
    const api = await startTraced('api/main.ts', env, /api listening/);
    children.push(api.child);
    const base = /"url":"(http:[^"]+)"/.exec(api.out())![1]!;
    const worker = await startTraced('workers/main.ts', env, /workers started/);
    children.push(worker.child);

    const { performanceId, seatIds } = await stack.performance(4);
    const [m] = await stack.members(1);
    await stack.admit(m!.token, performanceId, 15_000);
    const hold = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
      token: m!.token,
      body: { seatIds: [seatIds[0]] },
      base,
    });
    t.is(hold.status, 202, JSON.stringify(hold.body));
    const done = await stack.settle(m!.token, Number(hold.body['requestId']));
    t.is(done['status'], 'succeeded');

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
    const inTrace = (pick: (s: ReceivedSpan) => boolean) =>
      eventually(async () => receiver.spans.find((s) => s.traceId === request.traceId && pick(s)), 15_000);
    const enqueue = await inTrace((s) => s.kind === PRODUCER);
    t.is(enqueue.service, 'ticketing-api');
    const consumer = await inTrace((s) => s.kind === CONSUMER);
    t.is(consumer.service, 'ticketing-workers');
    t.is(consumer.parentSpanId, enqueue.spanId, 'the worker continues the enqueue');
    const batch = await inTrace((s) => s.name === 'seat.batch');
    t.is(batch.service, 'ticketing-workers');
    t.is(batch.parentSpanId, consumer.spanId);
    t.true(
      batch.links.some((l) => l.spanId === enqueue.spanId),
      'the batch links the job it applied',
    );
    const commit = await inTrace((s) => /^COMMIT/i.test(String(s.attributes['db.query.text'] ?? s.name)));
    t.is(commit.service, 'ticketing-workers');
    t.is(commit.parentSpanId, batch.spanId, 'the commit is the batch’s');
    const announce = await inTrace((s) => s.name === 'seat.after-commit');
    t.is(announce.parentSpanId, batch.spanId);
    t.true(
      receiver.spans.some((s) => s.traceId === request.traceId && s.parentSpanId === announce.spanId),
      'the announcement’s Redis call is in the trace',
    );

    // A problem answer names its trace, and so does the log line of its request.
    const bad = await stack.http('POST', `/api/performances/${performanceId}/holds`, {
      token: m!.token,
      body: { seatIds: [] },
      base,
    });
    t.is(bad.status, 400);
    const traceId = String(bad.body['traceId']);
    t.regex(traceId, /^[0-9a-f]{32}$/);
    await eventually(async () => receiver.spans.some((s) => s.traceId === traceId && s.kind === SERVER));
    await eventually(async () =>
      api
        .out()
        .split('\n')
        .some((l) => l.includes(`"traceId":"${traceId}"`)),
    );
    t.pass();
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await stack.close();
    await receiver.close();
  }
});
