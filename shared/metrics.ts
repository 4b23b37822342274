import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics } from 'prom-client';

// Every metric name of the service lives here; dashboards/ use only these.
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpRequestDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'API request latency by route template',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: latencyBuckets,
  registers: [registry],
});

export const requestsEnqueued = new Counter({
  name: 'seat_requests_enqueued_total',
  help: 'Seat requests (hold, confirm, release) accepted and enqueued',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const jobOutcomes = new Counter({
  name: 'seat_job_outcomes_total',
  help: 'Seat jobs committed by workers, by kind and outcome (succeeded or the rejection reason)',
  labelNames: ['kind', 'outcome'] as const,
  registers: [registry],
});

export const jobWait = new Histogram({
  name: 'seat_job_wait_seconds',
  help: 'Time a seat job waited in its queue before a worker started it',
  labelNames: ['kind'] as const,
  buckets: latencyBuckets,
  registers: [registry],
});

export const jobProcessing = new Histogram({
  name: 'seat_job_processing_seconds',
  help: 'Time to commit one seat job to MySQL',
  labelNames: ['kind'] as const,
  buckets: latencyBuckets,
  registers: [registry],
});

export const batchSize = new Histogram({
  name: 'seat_batch_jobs',
  help: 'Jobs applied together in one MySQL transaction (one batch of a performance queue)',
  buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
  registers: [registry],
});

export const batchCommit = new Histogram({
  name: 'seat_batch_commit_seconds',
  help: 'Time to apply one batch in MySQL, from its first read to its commit',
  buckets: latencyBuckets,
  registers: [registry],
});

export const jobInfraRetries = new Counter({
  name: 'seat_job_infrastructure_retries_total',
  help: 'In-place retries of seat jobs after MySQL or Redis errors',
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: 'seat_queue_jobs',
  help: 'Jobs in the performance queues by state',
  labelNames: ['performance_id', 'state'] as const,
  registers: [registry],
});

export const waitingRoomMembers = new Gauge({
  name: 'waiting_room_members',
  help: 'Members in waiting rooms by state (waiting or admitted)',
  labelNames: ['performance_id', 'state'] as const,
  registers: [registry],
});

export const waitingStatusReads = new Counter({
  name: 'waiting_room_status_reads_total',
  help: "Waiting-room status reads, by where they were answered: the API process's view of the line (no Redis) or Redis",
  labelNames: ['answered_from'] as const,
  registers: [registry],
});

export const admissions = new Counter({
  name: 'waiting_room_admissions_total',
  help: 'Members admitted from waiting rooms, by what admitted them (a join, a leave, the ticker)',
  labelNames: ['trigger'] as const,
  registers: [registry],
});

export const queueLag = new Gauge({
  name: 'seat_queue_oldest_waiting_seconds',
  help: "Age of the oldest job waiting in a performance's queue (0 when none waits)",
  labelNames: ['performance_id'] as const,
  registers: [registry],
});

export const saleControls = new Gauge({
  name: 'sale_control',
  help: 'The sale controls of each performance: admission_capacity, admission_paused, holds_paused, admission_open (1 once salesOpenAt passed and not paused)',
  labelNames: ['performance_id', 'control'] as const,
  registers: [registry],
});

export const sseClients = new Gauge({
  name: 'sse_clients',
  help: 'Open seat-status event streams on this process',
  registers: [registry],
});

export const seatEventsDelivered = new Counter({
  name: 'sse_events_sent_total',
  help: 'Seat events written to event streams',
  registers: [registry],
});

export const paymentAuthorizations = new Counter({
  name: 'payment_authorizations_total',
  help: 'Payment authorisations by outcome (authorized, declined, voided, captured)',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

/**
 * Gauges read on scrape: the owner of the data registers how to read it. A failing read (Redis
 * down) leaves the gauge empty instead of failing the whole scrape. Returns the unregister function.
 */
export function onScrape(gauge: Gauge<string>, collect: () => Promise<void>): () => void {
  const target = gauge as unknown as { collect?: () => Promise<void> };
  const guarded = async () => {
    try {
      await collect();
    } catch {
      gauge.reset();
    }
  };
  target.collect = guarded;
  return () => {
    if (target.collect === guarded) target.collect = undefined;
  };
}
