import test from 'ava';
import { checkHoldTrace, viaTsx } from './helpers/hold-trace.js';

// The compiled build runs the same check (test/build.test.ts).
test('when tracing is on, then a hold is one trace from the API request through the queue to the commit', async (t) => {
  await checkHoldTrace(t, viaTsx);
});
