import { z } from 'zod';

/** What tracing instruments, each of which OTEL_NODE_DISABLED_INSTRUMENTATIONS may leave out. */
export const TRACING_INSTRUMENTATIONS = ['http', 'express', 'ioredis', 'mysql2', 'bullmq'] as const;
export type TracingInstrumentation = (typeof TRACING_INSTRUMENTATIONS)[number];

const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789';
const DEV_ADMIN_EMAIL = 'admin@example.com';
const DEV_ADMIN_PASSWORD = 'admin-password';

// Values that are, or were, in this repository (development defaults, compose placeholders): anyone
// can read them, so production refuses them whatever their length.
const PUBLISHED = new Set([
  DEV_JWT_SECRET,
  DEV_ADMIN_PASSWORD,
  'compose-placeholder-jwt-secret-change-me-0123456789',
  'compose-admin-change-me',
  'ticketing-root-change-me',
  'grafana-change-me',
]);

/** Why a production secret is refused, or undefined when it is acceptable. */
export function weakSecret(value: string, minLength: number): string | undefined {
  if (PUBLISHED.has(value)) return 'this value is published in the repository';
  if (/change-?me|placeholder|example|password|secret/i.test(value))
    return 'looks like a placeholder (contains change-me, placeholder, example, password or secret)';
  if (value.length < minLength) return `must be at least ${minLength} characters`;
  if (new Set(value).size < Math.min(12, Math.ceil(minLength / 2))) return 'too few distinct characters';
  return undefined;
}

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const hostPort = z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port');

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    DATABASE_URL: z
      .string()
      .regex(
        /^mysql:\/\/[^/]+\/[A-Za-z0-9_]+(\?.*)?$/,
        'expected mysql://user[:password]@host[:port]/database',
      )
      .default('mysql://root@127.0.0.1:3306/ticketing'),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, 'expected redis://host:port[/db]')
      .default('redis://127.0.0.1:6379'),
    REDIS_CLUSTER_NODES: z
      .string()
      .optional()
      .transform((v) => (v ? v.split(',').map((s) => s.trim()) : undefined))
      .pipe(z.array(hostPort).min(1).optional()),
    KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,32}$/)
      .default('tk'),
    PORT: int(0, 65535).default(3000),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    WORKER_METRICS_PORT: int(0, 65535).default(9464),
    // Unset: the API serves no /metrics (it is not public on the API port); 0 picks a free port.
    METRICS_PORT: int(0, 65535).optional(),
    // Unset: tracing off and the OpenTelemetry SDK never loaded. The SDK reads these itself too.
    OTEL_EXPORTER_OTLP_ENDPOINT: z
      .url({ protocol: /^https?$/, error: 'expected an http(s) URL such as http://otel-collector:4318' })
      .optional(),
    OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json', 'grpc']).default('http/protobuf'),
    // The share of requests traced (a trace is kept or dropped whole, from its first span).
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
    OTEL_SERVICE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .optional(),
    // Instrumentations left out, comma-separated (as OpenTelemetry's Node auto-instrumentation names it).
    OTEL_NODE_DISABLED_INSTRUMENTATIONS: z
      .string()
      .default('')
      .transform((v) =>
        v
          .split(',')
          .map((n) => n.trim())
          .filter(Boolean),
      )
      .pipe(
        z.array(
          z.enum(TRACING_INSTRUMENTATIONS, {
            error: (issue) =>
              `${JSON.stringify(issue.input)} is not one of ${TRACING_INSTRUMENTATIONS.join(', ')}`,
          }),
        ),
      ),
    JWT_SECRET: z.string().min(32, 'must be at least 32 characters').default(DEV_JWT_SECRET),
    JWT_TTL_SECONDS: int(60, 86400 * 7).default(1800),
    ADMIN_EMAIL: z.email().default(DEV_ADMIN_EMAIL),
    ADMIN_PASSWORD: z.string().min(8).max(72).default(DEV_ADMIN_PASSWORD),
    HOLD_TTL_SECONDS: int(1, 86400).default(300),
    MAX_SEATS_PER_MEMBER: int(1, 100).default(4),
    CURRENCY: z
      .string()
      .regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as KRW or EUR')
      .default('KRW'),
    ADMISSION_CAPACITY: int(1, 1_000_000).default(100),
    ADMISSION_IDLE_SECONDS: int(1, 86400).default(60),
    ADMISSION_TICK_MS: int(50, 2000).default(500),
    RATE_LIMIT_MEMBER_PER_SECOND: int(0, 1_000_000).default(20),
    RATE_LIMIT_IP_PER_SECOND: int(0, 1_000_000).default(200),
    RATE_LIMIT_LOGIN_PER_MINUTE: int(0, 1_000_000).default(20),
    RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE: int(0, 1_000_000).default(10),
    ADMIN_LOCKOUT_ATTEMPTS: int(1, 1000).default(10),
    BULL_BOARD_READ_ONLY: bool.default(true),
    PAYMENT_LATENCY_MS: int(0, 60_000).default(150),
    PAYMENT_DECLINE_RATE: z.coerce.number().min(0).max(1).default(0),
    WORKER_LOCK_SECONDS: int(1, 600).default(2),
    SSE_HEARTBEAT_SECONDS: int(1, 15).default(15),
    SSE_MAX_REPLAY_EVENTS: int(1, 1_000_000).default(1000),
    SSE_MAX_STREAMS_PER_MEMBER: int(1, 1000).default(5),
    SSE_MAX_STREAMS: int(1, 1_000_000).default(10_000),
    SSE_MAX_BUFFERED_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
    SWEEP_INTERVAL_SECONDS: int(1, 3600).default(15),
    SWEEP_ORPHAN_SECONDS: int(1, 86400).default(60),
    PAYMENT_ORPHAN_SECONDS: int(1, 86400).default(120),
    BATCH_MAX_JOBS: int(1, 5000).default(500),
    // Test-only fault injection: a worker SIGKILLs (or SIGSTOPs) itself at this point of its first batch (or before
    // recording a draw), or an API process after the insert of its first request, before the enqueue.
    FAULT_INJECTION: z
      .enum([
        'none',
        'kill-before-commit',
        'kill-after-commit',
        'kill-before-enqueue',
        'kill-before-reveal',
        'stop-before-commit',
      ])
      .default('none'),
  })
  .superRefine((c, ctx) => {
    if (c.FAULT_INJECTION !== 'none' && c.NODE_ENV !== 'test')
      ctx.addIssue({ code: 'custom', path: ['FAULT_INJECTION'], message: 'only with NODE_ENV=test' });
    if (c.NODE_ENV !== 'production') return;
    const refuse = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
    if (c.JWT_SECRET === DEV_JWT_SECRET)
      refuse('JWT_SECRET', 'the development value is refused in production');
    else {
      const weak = weakSecret(c.JWT_SECRET, 32);
      if (weak) refuse('JWT_SECRET', `refused in production: ${weak}`);
    }
    if (c.ADMIN_EMAIL === DEV_ADMIN_EMAIL || c.ADMIN_PASSWORD === DEV_ADMIN_PASSWORD)
      refuse(
        'ADMIN_EMAIL',
        'the development admin is refused in production: set ADMIN_EMAIL and ADMIN_PASSWORD',
      );
    else {
      const weak = weakSecret(c.ADMIN_PASSWORD, 12);
      if (weak) refuse('ADMIN_PASSWORD', `refused in production: ${weak}`);
    }
    const db = new URL(c.DATABASE_URL);
    if (decodeURIComponent(db.username) === 'root')
      refuse('DATABASE_URL', "refused in production: connect as the service's own MySQL user, not root");
    else if (db.password) {
      const weak = weakSecret(decodeURIComponent(db.password), 16);
      if (weak) refuse('DATABASE_URL', `refused in production: its password ${weak}`);
    } else refuse('DATABASE_URL', 'refused in production: the MySQL user needs a password');
  });

export type Config = Readonly<{
  nodeEnv: 'development' | 'production' | 'test';
  databaseUrl: string;
  redisUrl: string;
  redisClusterNodes: readonly string[] | undefined;
  keyPrefix: string;
  port: number;
  logLevel: string;
  workerMetricsPort: number;
  /** Where the API serves /metrics; undefined: nowhere (never on the public port). */
  metricsPort: number | undefined;
  /** OTLP endpoint; undefined: tracing off. */
  otelEndpoint: string | undefined;
  otelProtocol: 'http/protobuf' | 'http/json' | 'grpc';
  otelServiceName: string | undefined;
  otelSampleRatio: number;
  /** Instrumentations tracing leaves out (OTEL_NODE_DISABLED_INSTRUMENTATIONS). */
  otelDisabled: readonly TracingInstrumentation[];
  jwtSecret: string;
  jwtTtlSeconds: number;
  adminEmail: string;
  adminPassword: string;
  holdTtlSeconds: number;
  maxSeatsPerMember: number;
  /** ISO 4217 code of every price (clients format prices with it). */
  currency: string;
  admissionCapacity: number;
  admissionIdleSeconds: number;
  admissionTickMs: number;
  rateLimitMemberPerSecond: number;
  rateLimitIpPerSecond: number;
  rateLimitLoginPerMinute: number;
  rateLimitLoginAccountPerMinute: number;
  adminLockoutAttempts: number;
  bullBoardReadOnly: boolean;
  paymentLatencyMs: number;
  paymentDeclineRate: number;
  workerLockSeconds: number;
  sseHeartbeatSeconds: number;
  sseMaxReplayEvents: number;
  sseMaxStreamsPerMember: number;
  sseMaxStreams: number;
  sseMaxBufferedBytes: number;
  sweepIntervalSeconds: number;
  sweepOrphanSeconds: number;
  paymentOrphanSeconds: number;
  batchMaxJobs: number;
  /** Test only: a worker dies around a commit, or an API process between a request's insert and its enqueue. */
  faultInjection:
    | 'none'
    | 'kill-before-commit'
    | 'kill-after-commit'
    | 'kill-before-enqueue'
    | 'kill-before-reveal'
    | 'stop-before-commit';
}>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses an environment; empty strings count as unset. Throws ConfigError naming every bad variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const r = schema.safeParse(cleaned);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  const c = r.data;
  return Object.freeze({
    nodeEnv: c.NODE_ENV,
    databaseUrl: c.DATABASE_URL,
    redisUrl: c.REDIS_URL,
    redisClusterNodes: c.REDIS_CLUSTER_NODES,
    keyPrefix: c.KEY_PREFIX,
    port: c.PORT,
    logLevel: c.LOG_LEVEL,
    workerMetricsPort: c.WORKER_METRICS_PORT,
    metricsPort: c.METRICS_PORT,
    otelEndpoint: c.OTEL_EXPORTER_OTLP_ENDPOINT,
    otelProtocol: c.OTEL_EXPORTER_OTLP_PROTOCOL,
    otelServiceName: c.OTEL_SERVICE_NAME,
    otelSampleRatio: c.OTEL_TRACES_SAMPLER_ARG,
    otelDisabled: c.OTEL_NODE_DISABLED_INSTRUMENTATIONS,
    jwtSecret: c.JWT_SECRET,
    jwtTtlSeconds: c.JWT_TTL_SECONDS,
    adminEmail: c.ADMIN_EMAIL,
    adminPassword: c.ADMIN_PASSWORD,
    holdTtlSeconds: c.HOLD_TTL_SECONDS,
    maxSeatsPerMember: c.MAX_SEATS_PER_MEMBER,
    currency: c.CURRENCY,
    admissionCapacity: c.ADMISSION_CAPACITY,
    admissionIdleSeconds: c.ADMISSION_IDLE_SECONDS,
    admissionTickMs: c.ADMISSION_TICK_MS,
    rateLimitMemberPerSecond: c.RATE_LIMIT_MEMBER_PER_SECOND,
    rateLimitIpPerSecond: c.RATE_LIMIT_IP_PER_SECOND,
    rateLimitLoginPerMinute: c.RATE_LIMIT_LOGIN_PER_MINUTE,
    rateLimitLoginAccountPerMinute: c.RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE,
    adminLockoutAttempts: c.ADMIN_LOCKOUT_ATTEMPTS,
    bullBoardReadOnly: c.BULL_BOARD_READ_ONLY,
    paymentLatencyMs: c.PAYMENT_LATENCY_MS,
    paymentDeclineRate: c.PAYMENT_DECLINE_RATE,
    workerLockSeconds: c.WORKER_LOCK_SECONDS,
    sseHeartbeatSeconds: c.SSE_HEARTBEAT_SECONDS,
    sseMaxReplayEvents: c.SSE_MAX_REPLAY_EVENTS,
    sseMaxStreamsPerMember: c.SSE_MAX_STREAMS_PER_MEMBER,
    sseMaxStreams: c.SSE_MAX_STREAMS,
    sseMaxBufferedBytes: c.SSE_MAX_BUFFERED_BYTES,
    sweepIntervalSeconds: c.SWEEP_INTERVAL_SECONDS,
    sweepOrphanSeconds: c.SWEEP_ORPHAN_SECONDS,
    paymentOrphanSeconds: c.PAYMENT_ORPHAN_SECONDS,
    batchMaxJobs: c.BATCH_MAX_JOBS,
    faultInjection: c.FAULT_INJECTION,
  });
}

let loaded: Config | undefined;

/** The process's configuration, read once from process.env (the only place that reads it). */
export function loadConfig(overrides: Record<string, string | undefined> = {}): Config {
  if (Object.keys(overrides).length > 0) return parseConfig({ ...process.env, ...overrides });
  loaded ??= parseConfig(process.env);
  return loaded;
}
