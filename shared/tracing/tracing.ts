import type { Telemetry } from 'bullmq';

/** A queued job as tracing sees it: its sequence and BullMQ's propagation metadata (`tm`), if any. */
export type TracedJob = { seq: number; tm?: string };

/** A batch's span, kept until its after-commit work is done. */
export type BatchTrace = {
  /** Runs the after-commit work in a span under the batch, then ends the batch's per-request spans. */
  afterCommit<T>(fn: () => Promise<T>): Promise<T>;
};

/**
 * What the service uses of OpenTelemetry, present only while tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT
 * set). This file imports nothing at run time: with tracing off the SDK and its API are never loaded,
 * and every call site pays one `undefined` check.
 */
export type Tracing = {
  /**
   * Handed to BullMQ's Queue and Worker (bullmq-otel): producer and consumer spans, context in the
   * job. Undefined when OTEL_NODE_DISABLED_INSTRUMENTATIONS names `bullmq`.
   */
  telemetry: Telemetry | undefined;
  /** Called once the API's routes are mounted: trims the Express instrumentation's per-layer work. */
  mounted(app: { router: { stack: unknown[] } }): void;
  /** The trace id of the active span, if any. */
  traceId(): string | undefined;
  /**
   * Runs a batch's commit in a `seat.batch` span: a child of the running job's consumer span when a
   * job leads it, else of its first job's enqueue; linked to every job it applies. Each job from
   * another trace gets a `seat.apply` span in its own trace, linked to the batch.
   */
  batch<T>(
    performanceId: number,
    jobs: TracedJob[],
    led: boolean,
    fn: () => Promise<T>,
  ): Promise<{ result: T; trace: BatchTrace }>;
  /** Flushes what is buffered; the last thing a process closes. */
  shutdown(): Promise<void>;
};

let current: Tracing | undefined;

/** The process's tracing, or undefined when it is off. */
export function tracing(): Tracing | undefined {
  return current;
}

export function installTracing(t: Tracing): void {
  current = t;
}
