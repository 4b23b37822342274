import test from 'ava';
import { randomBytes } from 'node:crypto';
import { checkHoldTrace, start, viaTsx } from './helpers/hold-trace.js';
import { Stack, eventually } from './helpers/stack.js';
import { startOtlpReceiver } from '../shared/testing/otlp-receiver.js';

// The compiled build runs the same check (test/build.test.ts).
test('when tracing is on, then a hold is one trace from the API request through the queue to the commit', async (t) => {
  await checkHoldTrace(t, viaTsx);
});

test('when a share of requests is traced, then a request left out has no trace and a caller’s sampled traceparent is followed', async (t) => {
  const receiver = await startOtlpReceiver();
  const stack = await Stack.start({ workers: 0 });
  const env = {
    ...stack.env,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_TRACES_SAMPLER_ARG: '0',
    LOG_LEVEL: 'info',
  };
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
