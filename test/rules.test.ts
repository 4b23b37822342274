import { planBatch } from '../shared/domain/batch.js';
import test from 'ava';
import { ConfigError, parseConfig } from '../shared/config.js';
import {
  decideConfirm,
  decideHold,
  decideRelease,
  duplicatedIds,
  queuePosition,
  shouldExpire,
} from '../shared/domain/holds.js';
import {
  estimateEtaSeconds,
  nextPollSeconds,
  paceEtaSeconds,
  pollCapSeconds,
  positionFromHead,
} from '../shared/waiting-room/pace.js';

test('when the environment is empty, then the contract defaults apply', (t) => {
  const c = parseConfig({});
  t.like(c, {
    databaseUrl: 'mysql://root@127.0.0.1:3306/ticketing',
    redisUrl: 'redis://127.0.0.1:6379',
    port: 3000,
    workerMetricsPort: 9464,
    holdTtlSeconds: 300,
    maxSeatsPerMember: 4,
    admissionCapacity: 100,
    admissionIdleSeconds: 60,
    rateLimitMemberPerSecond: 20,
    rateLimitIpPerSecond: 200,
    bullBoardReadOnly: true,
  });
  t.is(c.metricsPort, undefined, 'no /metrics unless METRICS_PORT is set');
  t.is(c.otelEndpoint, undefined, 'tracing off unless OTEL_EXPORTER_OTLP_ENDPOINT is set');
  t.true(Object.isFrozen(c));
});

test('when the metrics port and the tracing endpoint are set, then they are read and checked', (t) => {
  const c = parseConfig({
    METRICS_PORT: '9465',
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  });
  t.like(c, {
    metricsPort: 9465,
    otelEndpoint: 'http://otel-collector:4318',
    otelProtocol: 'http/json',
  });
  t.throws(() => parseConfig({ METRICS_PORT: 'none' }), { message: /METRICS_PORT/ });
  t.throws(() => parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4318' }), {
    message: /OTEL_EXPORTER_OTLP_ENDPOINT/,
  });
  t.throws(() => parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector' }), {
    message: /OTEL_EXPORTER_OTLP_ENDPOINT/,
  });
  t.throws(() => parseConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'udp' }), {
    message: /OTEL_EXPORTER_OTLP_PROTOCOL/,
  });
});

test('when a variable is bad, then parsing fails naming every bad variable', (t) => {
  const err = t.throws(
    () => parseConfig({ PORT: 'eighty', HOLD_TTL_SECONDS: '-1', REDIS_CLUSTER_NODES: 'a:1,b' }),
    {
      instanceOf: ConfigError,
    },
  );
  t.regex(err.message, /PORT/);
  t.regex(err.message, /HOLD_TTL_SECONDS/);
  t.regex(err.message, /REDIS_CLUSTER_NODES/);
  t.throws(() => parseConfig({ DATABASE_URL: 'postgres://x/y' }), { message: /DATABASE_URL/ });
  t.throws(() => parseConfig({ BULL_BOARD_READ_ONLY: 'maybe' }), { message: /BULL_BOARD_READ_ONLY/ });
});

test('when NODE_ENV is production, then the development secret and admin are refused', (t) => {
  t.throws(() => parseConfig({ NODE_ENV: 'production' }), { message: /JWT_SECRET[\s\S]*ADMIN_EMAIL/ });
  const ok = parseConfig({
    NODE_ENV: 'production',
    DATABASE_URL: 'mysql://ticketing:Hq7vT2kLw9ZxB4nM@db:3306/ticketing',
    JWT_SECRET: 'c9F2kQ7xZ1wL4vN8bT3mR6yH0pJ5sD2gA7uE9iO1',
    ADMIN_EMAIL: 'ops@venue.example',
    ADMIN_PASSWORD: 'Vq8-Ln2xWz5Kp',
  });
  t.is(ok.nodeEnv, 'production');
  t.deepEqual(parseConfig({ REDIS_CLUSTER_NODES: 'h1:7000, h2:7001' }).redisClusterNodes, [
    'h1:7000',
    'h2:7001',
  ]);
});

test('when a hold is decided, then it is all-or-nothing and the seat check comes before the limit', (t) => {
  const free = { status: 'available' as const };
  const held = { status: 'held' as const };
  t.deepEqual(decideHold([free, free], 2, 0, 4), { ok: true });
  t.deepEqual(decideHold([free, held], 2, 0, 4), { ok: false, reason: 'seat-unavailable' });
  t.deepEqual(decideHold([free], 2, 0, 4), { ok: false, reason: 'seat-unavailable' }, 'a missing seat');
  t.deepEqual(decideHold([free, free], 2, 3, 4), { ok: false, reason: 'limit-exceeded' });
  t.deepEqual(decideHold([held, free], 2, 3, 4), { ok: false, reason: 'seat-unavailable' });
  t.deepEqual(decideHold([free, free], 2, 2, 4), { ok: true }, 'exactly at the limit');
});

test('when a confirm or release is decided, then only the owner of a live hold succeeds', (t) => {
  const expiresAt = new Date('2030-01-01T00:00:10Z');
  const hold = { memberId: 1, status: 'held' as const, expiresAt };
  const before = new Date('2030-01-01T00:00:09Z');
  t.deepEqual(decideConfirm(hold, 1, before), { ok: true });
  t.deepEqual(decideConfirm(hold, 2, before), { ok: false, reason: 'hold-not-found' });
  t.deepEqual(decideConfirm(hold, 1, expiresAt), { ok: false, reason: 'hold-expired' }, 'enqueued at expiry');
  t.deepEqual(decideConfirm({ ...hold, status: 'expired' }, 1, before), {
    ok: false,
    reason: 'hold-expired',
  });
  t.deepEqual(decideConfirm({ ...hold, status: 'released' }, 1, before), {
    ok: false,
    reason: 'hold-not-found',
  });
  t.deepEqual(decideConfirm(null, 1, before), { ok: false, reason: 'hold-not-found' });
  t.deepEqual(decideRelease(hold, 1), { ok: true });
  t.deepEqual(decideRelease({ ...hold, status: 'confirmed' }, 1), { ok: false, reason: 'hold-not-found' });
  t.true(shouldExpire(hold, expiresAt));
  t.false(shouldExpire(hold, new Date('2030-01-01T00:00:05Z')));
  t.false(shouldExpire({ ...hold, status: 'confirmed' }, expiresAt));
});

test('when positions and estimates are computed, then they follow the queue and the measured rate', (t) => {
  t.is(queuePosition(10, 0), 10);
  t.is(queuePosition(10, 9), 1);
  t.is(queuePosition(10, 12), 1, 'never below 1 while queued');
  t.deepEqual(duplicatedIds([1, 2, 2, 3, 3, 3]), [2, 3]);
  t.is(estimateEtaSeconds(30, 60, 100, 60), 30, '60 admissions a minute: one a second');
  t.is(estimateEtaSeconds(250, 0, 100, 60), 180, 'nothing measured yet: whole idle periods');
});

test('when one request has two jobs in a batch (a re-queue raced its original), then only the first decides it', (t) => {
  const plan = planBatch(
    [
      { seq: 1, kind: 'hold', requestId: 10, memberId: 1, seatIds: [100] },
      { seq: 2, kind: 'hold', requestId: 10, memberId: 1, seatIds: [100] },
      { seq: 3, kind: 'hold', requestId: 11, memberId: 2, seatIds: [100] },
    ],
    {
      now: new Date('2030-01-01T00:00:00Z'),
      holdTtlSeconds: 300,
      maxSeatsPerMember: 4,
      requests: new Map([
        [10, { status: 'queued', createdAt: new Date('2029-12-31T23:59:00Z') }],
        [11, { status: 'queued', createdAt: new Date('2029-12-31T23:59:01Z') }],
      ]),
      seats: new Map([[100, 'available']]),
      memberSeats: new Map(),
      holds: new Map(),
      payments: new Map(),
    },
  );
  t.deepEqual(
    plan.results.map((r) => [r.seq, r.requestId, r.outcome]),
    [
      [1, 10, 'succeeded'],
      [2, 10, 'duplicate'],
      [3, 11, 'seat-unavailable'],
    ],
  );
  t.is(plan.newHolds.length, 1);
});

test('when the line is paced, then members far back ask rarely, near the front hold the push, and nobody is asked to stay away past the idle limit', (t) => {
  // Idle 60 s: the longest pace is 55 s, so an admission made just after a read is learned in time.
  t.is(pollCapSeconds(60), 55);
  t.is(pollCapSeconds(6), 3);
  t.is(pollCapSeconds(1), 1);
  t.is(nextPollSeconds('waiting', 30, 60), 0, 'a wait of 30 s or less: the push');
  t.is(nextPollSeconds('waiting', 75, 60), 30, 'half the wait beyond the push window');
  t.is(nextPollSeconds('waiting', 10_000, 60), 55, 'far back: the cap');
  t.is(nextPollSeconds('admitted', 0, 60), 55);
  t.is(nextPollSeconds('sold-out', 0, 60), 60);
  // The pace assumes the line may move twice as fast as measured; with nothing measured, a full
  // turnover of the capacity every 10 s.
  t.is(paceEtaSeconds(600, 1200, 100), 15);
  t.is(paceEtaSeconds(600, 0, 100), 60);
  t.is(paceEtaSeconds(600, 1200, 100, 120), 135, 'the time until the opening comes first');
  t.is(positionFromHead(5000, 1200), 3800, 'ticket less the head');
});
