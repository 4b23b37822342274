// Loaded only when tracing is on (shared/tracing/preload.ts): the OpenTelemetry SDK, the HTTP,
// Express, ioredis and mysql2 instrumentations, and BullMQ's telemetry (bullmq-otel).
import { register } from 'node:module';
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
import { BullMQOtel } from 'bullmq-otel';
import type { Config } from '../config.js';
import { installTracing, type BatchTrace, type Tracing } from './tracing.js';

/**
 * A trace starts at a request (an HTTP request, a job enqueued or consumed) or at a batch, never at
 * the background loops' own Redis and MySQL calls or BullMQ's empty polls: those would bury the
 * requests' traces. Of those, `ratio` are kept (by trace id); spans under a started trace follow
 * their parent, across processes too.
 */
function rootSampler(ratio: number): Sampler {
  const share = new TraceIdRatioBasedSampler(ratio);
  return {
    shouldSample(ctx, traceId, name, kind) {
      const start =
        kind === SpanKind.SERVER ||
        kind === SpanKind.PRODUCER ||
        kind === SpanKind.CONSUMER ||
        name.startsWith('seat.');
      if (!start) return { decision: SamplingDecision.NOT_RECORD };
      return share.shouldSample(ctx, traceId);
    },
    toString: () => `TicketingRootSampler{${ratio}}`,
  };
}

/** Probes and scrapes are not requests anybody follows. */
const UNTRACED = new Set(['/healthz', '/readyz', '/metrics']);

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

export async function startTracing(config: Config, role: string): Promise<void> {
  // ES modules are instrumented through a loader hook, which must be in place before the service's
  // modules load: this runs from `--import` (preload.ts), ahead of the entry point.
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const sdk = new NodeSDK({
    serviceName: config.otelServiceName ?? `ticketing-${role}`,
    sampler: new ParentBasedSampler({ root: rootSampler(config.otelSampleRatio) }),
    // Traces only: metrics stay with Prometheus, logs with pino (which carry the trace id).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => UNTRACED.has((req.url ?? '').split('?')[0] ?? ''),
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
      }),
      // The route's handler, not a span per middleware and router layer (a dozen per request: their
      // cost, not their information, would show on the hold path).
      new ExpressInstrumentation({
        ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER],
      }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new MySQL2Instrumentation(),
    ],
  });
  sdk.start();
  const tracer = trace.getTracer('ticketing');

  const t: Tracing = {
    telemetry: new BullMQOtel({ tracerName: 'bullmq' }),
    traceId: () => trace.getActiveSpan()?.spanContext().traceId,
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
