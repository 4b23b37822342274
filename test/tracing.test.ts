import test from 'ava';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { checkHoldTrace, holdOneSeat, start, tracedEnv, viaTsx } from './helpers/hold-trace.js';
import { ROOT, Stack, eventually, testEnv } from './helpers/stack.js';
import { startOtlpReceiver } from '../shared/testing/otlp-receiver.js';

// The compiled build runs the same check (test/build.test.ts).
test('when tracing is on, then a hold is one trace from the API request through the queue to the commit', async (t) => {
  await checkHoldTrace(t, viaTsx);
});

test('when a share of requests is traced, then a request left out has no trace and a caller’s sampled traceparent is followed', async (t) => {
  const receiver = await startOtlpReceiver();
  const stack = await Stack.start({ workers: 0 });
  const env = tracedEnv(stack, receiver, { OTEL_TRACES_SAMPLER_ARG: '0' });
  const api = await start(viaTsx.args('api'), env, /api listening/);
  try {
    const base = /"url":"(http:[^"]+)"/.exec(api.out())![1]!;
    const { performanceId } = await stack.performance(1);
    const [m] = await stack.members(1);
    const bad = (headers: Record<string, string>) =>
      stack.http('POST', `/api/performances/${performanceId}/holds`, {
        token: m!.token,
        body: { seatIds: [] },
        base,
        headers,
      });
    const hex = (bytes: number) => randomBytes(bytes).toString('hex');
    const [declinedTrace, declinedParent] = [hex(16), hex(8)];
    const [upstreamTrace, upstreamParent] = [hex(16), hex(8)];

    const leftOut = await bad({});
    t.is(leftOut.status, 400);
    t.is(leftOut.body['traceId'], undefined, 'an untraced answer names no trace');
    const declined = await bad({ traceparent: `00-${declinedTrace}-${declinedParent}-00` });
    t.is(declined.body['traceId'], undefined, 'the caller did not sample it');
    const followed = await bad({ traceparent: `00-${upstreamTrace}-${upstreamParent}-01` });
    t.is(followed.body['traceId'], upstreamTrace, 'the caller sampled it: its trace goes on here');

    const server = await eventually(
      async () => receiver.spans.find((s) => s.traceId === upstreamTrace && s.kind === 2),
      15_000,
    );
    t.is(server.parentSpanId, upstreamParent);
    // Spans are exported in the order they end: the two before it would have arrived by now.
    t.deepEqual(
      receiver.spans.filter((s) => s.kind === 2).map((s) => s.traceId),
      [upstreamTrace],
      'only the sampled request was traced',
    );
  } finally {
    api.child.kill('SIGKILL');
    await stack.close();
    await receiver.close();
  }
});

test('when instrumentations are left out, then a hold is still one trace, without their spans', async (t) => {
  const receiver = await startOtlpReceiver();
  const stack = await Stack.start({ workers: 0 });
  const children: ChildProcess[] = [];
  try {
    const env = tracedEnv(stack, receiver, { OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'ioredis, mysql2' });
    const api = await start(viaTsx.args('api'), env, /api listening/);
    children.push(api.child);
    const base = /"url":"(http:[^"]+)"/.exec(api.out())![1]!;
    children.push((await start(viaTsx.args('workers'), env, /workers started/)).child);
    const { performanceId, seatIds } = await stack.performance(2);
    await holdOneSeat(t, stack, base, performanceId, seatIds[0]!);
    const server = await eventually(
      async () =>
        receiver.spans.find(
          (s) =>
            s.kind === 2 && s.name === 'POST /api/performances/:id/holds' && s.service === 'ticketing-api',
        ),
      15_000,
    );
    // The after-commit span ends last: by then every span of the hold has been exported.
    await eventually(
      async () => receiver.spans.some((s) => s.traceId === server.traceId && s.name === 'seat.after-commit'),
      15_000,
    ).catch(() => t.fail('the hold’s trace reached the commit and its announcement'));
    const inTrace = receiver.spans.filter((s) => s.traceId === server.traceId);
    t.true(
      inTrace.some((s) => s.kind === 4 && s.service === 'ticketing-api'),
      'the enqueue is in it',
    );
    t.true(
      inTrace.some((s) => s.kind === 5 && s.service === 'ticketing-workers'),
      'the run is in it',
    );
    t.true(
      inTrace.some((s) => s.name === 'seat.batch'),
      'the batch is in it',
    );
    t.deepEqual(
      inTrace.filter((s) => s.kind === 3).map((s) => s.name),
      [],
      'no Redis or MySQL client spans',
    );
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await stack.close();
    await receiver.close();
  }
});

test('when the list of instrumentations to leave out names an unknown one, then the process says which and exits 2', (t) => {
  const run = spawnSync(process.execPath, viaTsx.args('api'), {
    cwd: ROOT,
    env: {
      PATH: process.env['PATH'] ?? '',
      ...testEnv({ OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'http,redis' }),
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(run.status, 2, run.stderr);
  t.regex(
    run.stderr,
    /OTEL_NODE_DISABLED_INSTRUMENTATIONS.*"redis" is not one of http, express, ioredis, mysql2, bullmq/,
  );
});
