// Loaded only when tracing is on (shared/tracing/preload.ts): the OpenTelemetry SDK, the HTTP,
// Express, ioredis and mysql2 instrumentations, and BullMQ's telemetry (bullmq-otel).
import { register } from 'node:module';
import { SpanKind as QueueSpanKind, type Span as QueueSpan, type Telemetry } from 'bullmq';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context as OtelContext,
  type Link,
  type Span,
} from '@opentelemetry/api';
import { isTracingSuppressed, suppressTracing, unsuppressTracing } from '@opentelemetry/core';
import { isWrapped, type Instrumentation } from '@opentelemetry/instrumentation';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
} from '@opentelemetry/sdk-trace';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { BullMQOtel, BullMQOTelSpan } from 'bullmq-otel';
import { TRACING_INSTRUMENTATIONS, type Config, type TracingInstrumentation } from '../config.js';
import { installTracing, type BatchTrace, type Tracing } from './tracing.js';

/**
 * A trace starts at a request (an HTTP request, a job enqueued by a background loop) or at a batch,
 * never at the background loops' own Redis and MySQL calls or BullMQ's empty polls: those would
 * bury the requests' traces. Spans under a started trace follow their parent, across processes too.
 * An HTTP request was sampled before its span started (`sampledRequest`); of the other roots
 * `ratio` are kept, by trace id. A job whose enqueue left no context came from a request left out.
 */
function rootSampler(ratio: number): Sampler {
  const share = new TraceIdRatioBasedSampler(ratio);
  return {
    shouldSample(ctx, traceId, name, kind) {
      if (kind === SpanKind.SERVER) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      if (kind === SpanKind.PRODUCER || name.startsWith('seat.')) return share.shouldSample(ctx, traceId);
      return { decision: SamplingDecision.NOT_RECORD };
    },
    toString: () => `TicketingRootSampler{${ratio}}`,
  };
}

/**
 * Whether to trace an incoming request: as its caller's `traceparent` says, else `ratio` of them.
 * Decided before the HTTP instrumentation does any work: a request left out runs with tracing
 * suppressed: no span, no attributes, no context in its job, nothing from the instrumentations.
 */
function sampledRequest(traceparent: string | string[] | undefined, ratio: number): boolean {
  const flags =
    typeof traceparent === 'string'
      ? /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-([\da-f]{2})$/.exec(traceparent)
      : null;
  if (flags) return (parseInt(flags[1]!, 16) & 1) === 1;
  return ratio >= 1 || Math.random() < ratio;
}

/** Probes and scrapes are not requests anybody follows; an event stream is a connection, not a request. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);
const STREAM = /\/seats\/events$/;

/** A client call gets a span only inside a span being recorded (a sampled request, job or batch). */
function recording(ctx: OtelContext): boolean {
  return !isTracingSuppressed(ctx) && trace.getSpan(ctx)?.isRecording() === true;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Methods = Record<string, Method>;

/**
 * Gates an instrumentation's wrapper of `proto[name]` (ioredis' sendCommand, mysql2's query):
 * outside a recorded span the call goes straight to the unwrapped method, without the wrapper's
 * work (attributes, the statement's text, a span nobody records) on every background and
 * unsampled call. `contextOf` picks the caller's context when it is not the active one.
 */
function gate(proto: Methods, name: string, contextOf?: (args: unknown[]) => OtelContext | undefined): void {
  const traced = proto[name];
  if (!traced || !isWrapped(traced)) return; // not instrumented (an unsupported version): leave it
  const plain = traced.__original;
  const gated = function (this: unknown, ...args: unknown[]) {
    const caller = contextOf?.(args);
    if (!recording(caller ?? context.active())) return Reflect.apply(plain, this, args) as unknown;
    return caller ? context.with(caller, traced, this, ...args) : traced.apply(this, args);
  };
  // A router's handle is the router itself: its stack and methods stay reachable (as the wrapper does).
  for (const key in plain)
    Object.defineProperty(gated, key, {
      get: () => (plain as unknown as Record<string, unknown>)[key],
      set: (value: unknown) => ((plain as unknown as Record<string, unknown>)[key] = value),
    });
  proto[name] = gated;
}

type Layer = { name?: string; handle?: unknown };

/**
 * The Express instrumentation wraps the handle of every layer mounted. A middleware layer gets no
 * span (ignored below) yet pays the wrapper's bookkeeping on every request: it gets its own handle
 * back. Routers and request handlers (their paths make the route's name) keep the wrapper, gated:
 * an unsampled request skips it.
 */
function trimExpress(stack: Layer[]): void {
  for (const layer of stack) {
    const handle = layer.handle;
    if (typeof handle !== 'function' || !isWrapped(handle)) continue;
    const router = layer.name === 'router';
    if (!router && layer.name !== 'bound dispatch' && layer.name !== 'handle') {
      layer.handle = handle.__original;
      continue;
    }
    gate(layer as Methods, 'handle');
    if (router) trimExpress((handle as { stack?: Layer[] }).stack ?? []);
  }
}

/** The context a pipelined Redis command was issued in (ioredis sends it later, from the flush). */
const CALLER = Symbol('caller context');

/**
 * Redis commands under the request, job or batch that issued them. ioredis auto-pipelines the
 * API's commands (one write per tick): a pipelined command is sent from whichever caller's tick
 * flushed the pipeline, so it carries its own caller's context from the moment it is queued.
 */
async function gateRedis(): Promise<void> {
  const { Redis, Pipeline } = await import('ioredis');
  const pipeline = Pipeline.prototype as unknown as Methods;
  const queue = pipeline['sendCommand']!;
  pipeline['sendCommand'] = function (this: unknown, ...args: unknown[]) {
    const command = args[0];
    if (command && typeof command === 'object')
      (command as { [CALLER]?: OtelContext })[CALLER] = context.active();
    return queue.apply(this, args);
  };
  gate(Redis.prototype as unknown as Methods, 'sendCommand', (args) => {
    const command = args[0];
    return command && typeof command === 'object'
      ? (command as { [CALLER]?: OtelContext })[CALLER]
      : undefined;
  });
}

/** MySQL statements only under a recorded span (the mysql2 instrumentation wraps the base class). */
async function gateMysql(): Promise<void> {
  const { Connection } = (await import('mysql2')).default;
  let proto = Connection.prototype as unknown as Methods | null;
  while (proto && !Object.prototype.hasOwnProperty.call(proto, 'query'))
    proto = Object.getPrototypeOf(proto) as Methods | null;
  if (!proto) return;
  gate(proto, 'query');
  gate(proto, 'execute');
}

/**
 * BullMQ's telemetry (bullmq-otel) for the hops a request makes: the enqueue (a producer span whose
 * context travels in the job) and the run (a consumer span continuing it). BullMQ's bookkeeping —
 * polls, lock renewals, a job's completion, the stalled check — gets no span, and nothing under
 * it or under the enqueue (BullMQ's own Redis scripts) is traced.
 */
function queueTelemetry(): Telemetry<OtelContext> {
  const otel = new BullMQOtel({ tracerName: 'bullmq' });
  const tracer = trace.getTracer('bullmq');
  const producers = new WeakSet<Span>();
  const untraced: QueueSpan<OtelContext> = {
    setSpanOnContext: (ctx) => suppressTracing(ctx),
    setAttribute: () => undefined,
    setAttributes: () => undefined,
    addEvent: () => undefined,
    recordException: () => undefined,
    end: () => undefined,
  };
  return {
    tracer: {
      // (BullMQ's span kinds are OpenTelemetry's, by number.)
      startSpan(name, options, ctx) {
        if (!options || options.kind === QueueSpanKind.INTERNAL) return untraced;
        const span = tracer.startSpan(name, { kind: options.kind as number as SpanKind }, ctx);
        if (options.kind === QueueSpanKind.PRODUCER) producers.add(span);
        return new BullMQOTelSpan(span);
      },
    },
    contextManager: {
      // The enqueue's context goes into the job as it is; BullMQ's script under it runs untraced.
      with: (ctx, fn) => {
        const span = trace.getSpan(ctx);
        return otel.contextManager.with(span && producers.has(span) ? suppressTracing(ctx) : ctx, fn);
      },
      active: () => otel.contextManager.active(),
      // Loops BullMQ starts (the stalled check) run outside whatever span started them.
      root: () => ROOT_CONTEXT,
      // A job BullMQ retries stays in its trace: it carries the context of the run it retries (the
      // retry's own span is bookkeeping, untraced, and tracing is suppressed under it).
      getMetadata: (ctx) => otel.contextManager.getMetadata(unsuppressTracing(ctx)),
      fromMetadata: (active, metadata) => otel.contextManager.fromMetadata(active, metadata),
    },
  };
}

/** A job's enqueue context, from BullMQ's propagation metadata (a JSON carrier). */
function contextOf(tm: string | undefined): OtelContext | undefined {
  if (!tm) return undefined;
  try {
    const ctx = propagation.extract(ROOT_CONTEXT, JSON.parse(tm) as Record<string, string>);
    return trace.getSpanContext(ctx) ? ctx : undefined;
  } catch {
    return undefined;
  }
}

/** The API's server spans: probes, scrapes and event streams left out, and requests as sampled. */
function httpInstrumentation(config: Config): HttpInstrumentation {
  return new HttpInstrumentation({
    ignoreIncomingRequestHook: (req) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (UNTRACED.has(path) || STREAM.test(path)) return true;
      return !sampledRequest(req.headers.traceparent, config.otelSampleRatio);
    },
    // The service calls nothing over HTTP; the exporter's own requests are not traced.
    disableOutgoingRequestInstrumentation: true,
    // The Express instrumentation repeats the `/api` of every `app.use('/api', …)` the request went
    // through (`/api/api/api/…/holds`): the span is named by the route once.
    applyCustomAttributesOnSpan: (span, req) => {
      const attributes: unknown = 'attributes' in span ? span.attributes : undefined;
      const route = (attributes as Record<string, unknown> | undefined)?.['http.route'];
      if (typeof route !== 'string' || !route.startsWith('/api/api')) return;
      const once = route.replace(/^(\/api)+(?=\/)/, '/api');
      span.setAttribute('http.route', once);
      span.updateName(`${req.method ?? 'GET'} ${once}`);
    },
  });
}

export async function startTracing(config: Config, role: string): Promise<void> {
  // ES modules are instrumented through a loader hook, which must be in place before the service's
  // modules load: this runs from `--import` (preload.ts), ahead of the entry point.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  // A name in OTEL_NODE_DISABLED_INSTRUMENTATIONS leaves its instrumentation out (`bullmq`: the
  // queue's telemetry, below).
  const off = (name: TracingInstrumentation) => config.otelDisabled.includes(name);
  const instrumentation: Record<Exclude<TracingInstrumentation, 'bullmq'>, () => Instrumentation> = {
    http: () => httpInstrumentation(config),
    // It names the request's span by its route (`http.route`); no span per layer (a dozen per
    // request, the handler's own no more telling than the request's: their cost, not their
    // information, would show on the hold path).
    express: () =>
      new ExpressInstrumentation({
        ignoreLayersType: [
          ExpressLayerType.MIDDLEWARE,
          ExpressLayerType.ROUTER,
          ExpressLayerType.REQUEST_HANDLER,
        ],
      }),
    ioredis: () => new IORedisInstrumentation({ requireParentSpan: true }),
    mysql2: () => new MySQL2Instrumentation(),
  };
  const sdk = new NodeSDK({
    serviceName: config.otelServiceName ?? `ticketing-${role}`,
    sampler: new ParentBasedSampler({ root: rootSampler(config.otelSampleRatio) }),
    // Traces only: metrics stay with Prometheus, logs with pino (which carry the trace id).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: TRACING_INSTRUMENTATIONS.flatMap((name) => {
      const make = name === 'bullmq' || off(name) ? undefined : instrumentation[name];
      return make ? [make()] : [];
    }),
  });
  sdk.start();
  // (Left out, the client's calls are not wrapped: nothing to gate, nor a caller to remember.)
  if (!off('ioredis')) await gateRedis();
  if (!off('mysql2')) await gateMysql();
  const tracer = trace.getTracer('ticketing');

  const t: Tracing = {
    // Without BullMQ's telemetry the enqueue and the run have no spans and the job carries no context.
    telemetry: off('bullmq') ? undefined : queueTelemetry(),
    traceId: () => trace.getActiveSpan()?.spanContext().traceId,
    mounted: (app) => trimExpress(app.router.stack as Layer[]),
    async batch(performanceId, jobs, led, fn) {
      const started = Date.now();
      const contexts = jobs.map((j) => ({ seq: j.seq, ctx: contextOf(j.tm) }));
      const parent = led ? context.active() : (contexts.find((c) => c.ctx)?.ctx ?? ROOT_CONTEXT);
      const parentTrace = trace.getSpanContext(parent)?.traceId;
      const links: Link[] = contexts.flatMap((c) => {
        const sc = c.ctx && trace.getSpanContext(c.ctx);
        return sc ? [{ context: sc, attributes: { 'job.id': String(c.seq) } }] : [];
      });
      const span = tracer.startSpan(
        'seat.batch',
        {
          attributes: {
            'performance.id': performanceId,
            'batch.jobs': jobs.length,
            'batch.first_job': jobs[0]?.seq ?? 0,
            'batch.last_job': jobs[jobs.length - 1]?.seq ?? 0,
          },
          links,
        },
        parent,
      );
      const batchCtx = trace.setSpan(parent, span);
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await context.with(batchCtx, fn);
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        span.end();
        throw err;
      }
      span.end();
      // Each request enqueued in another trace gets the batch in its own trace: a span over the
      // commit and its announcement, linked to the batch.
      const own: Span[] = contexts.flatMap((c) => {
        const sc = c.ctx && trace.getSpanContext(c.ctx);
        if (!c.ctx || !sc || sc.traceId === parentTrace) return [];
        return [
          tracer.startSpan(
            'seat.apply',
            {
              startTime: started,
              attributes: { 'performance.id': performanceId, 'job.id': String(c.seq) },
              links: [{ context: span.spanContext() }],
            },
            c.ctx,
          ),
        ];
      });
      const batchTrace: BatchTrace = {
        async afterCommit(work) {
          const after = tracer.startSpan('seat.after-commit', {}, batchCtx);
          try {
            return await context.with(trace.setSpan(batchCtx, after), work);
          } finally {
            after.end();
            own.forEach((s) => s.end());
          }
        },
      };
      return { result, trace: batchTrace };
    },
    shutdown: () => sdk.shutdown(),
  };
  installTracing(t);
}
