import type { Sequelize } from 'sequelize';
import { z } from 'zod';
import type { Config } from '../config.js';
import { NotFoundError } from '../errors.js';
import { HoldRequestRepository } from '../db/repositories/hold-request.repository.js';
import { PaymentRepository } from '../db/repositories/payment.repository.js';
import type { PerformanceQueues } from '../queues/performance-queues.js';
import type { BestAvailable } from '../queues/jobs.js';
import type { Catalogue } from '../catalogue/catalogue.service.js';
import type { PaymentGateway } from '../payments/gateway.js';
import type { RedisClient } from '../redis.js';
import type { RequestWaiter } from './request-waiter.js';
import { RequestEnqueuer } from './request-enqueuer.js';
import { RequestIntake, type Accepted } from './request-intake.service.js';
import { ConfirmPayment, type HoldHead, type PaymentDetails } from './confirm-payment.service.js';
import { RequestOwners, RequestReads } from './request-reads.service.js';
import type { HoldView, RequestView } from './views.js';

export const idempotencyKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

export { paymentSchema, MAX_PAYMENT_AMOUNT } from './confirm-payment.service.js';
export type { Accepted } from './request-intake.service.js';
export type { HoldView, RequestView } from './views.js';

/**
 * The accept path as the routes see it, split by job: accepting (RequestIntake: validate,
 * idempotency, insert + enqueue), paying (ConfirmPayment: authorise, void) and waiting
 * (RequestReads: views and long-polls).
 */
export class SeatRequests {
  private readonly rows: HoldRequestRepository;
  private readonly intake: RequestIntake;
  private readonly paying: ConfirmPayment;
  private readonly reads: RequestReads;

  constructor(
    config: Config,
    sequelize: Sequelize,
    queues: PerformanceQueues,
    catalogue: Catalogue,
    payments: PaymentGateway,
    waiter: RequestWaiter,
    redis: RedisClient,
  ) {
    this.rows = new HoldRequestRepository(sequelize);
    this.reads = new RequestReads(this.rows, queues, waiter, new RequestOwners());
    const enqueuer = new RequestEnqueuer(redis, config.keyPrefix, queues, this.rows);
    this.intake = new RequestIntake(config, this.rows, queues, enqueuer, catalogue, waiter, this.reads);
    this.paying = new ConfirmPayment(config, payments, new PaymentRepository(sequelize), this.intake, redis);
  }

  hold(
    memberId: number,
    performanceId: number,
    seatIds: number[] | { best: BestAvailable },
    idempotencyKey?: string,
    waitSeconds = 0,
  ): Promise<Accepted> {
    return this.intake.hold(memberId, performanceId, seatIds, idempotencyKey, waitSeconds);
  }

  /** The member's own hold; another member's is as absent as a missing one. */
  async ownHold(memberId: number, holdId: number): Promise<HoldHead> {
    const hold = await this.rows.holdHead(holdId);
    if (!hold || hold.memberId !== memberId)
      throw new NotFoundError('hold-not-found', `You have no hold ${holdId}.`);
    return hold;
  }

  confirm(
    memberId: number,
    hold: HoldHead,
    payment: PaymentDetails,
    idempotencyKey?: string,
    waitSeconds = 0,
  ): Promise<Accepted> {
    return this.paying.confirm(memberId, hold, payment, idempotencyKey, waitSeconds);
  }

  release(memberId: number, hold: HoldHead, idempotencyKey?: string, waitSeconds = 0): Promise<Accepted> {
    return this.intake.release(memberId, hold, idempotencyKey, waitSeconds);
  }

  /** Sends the queue sequences still waiting for their write-behind (at shutdown). */
  flushSeqs(): Promise<void> {
    return this.intake.flushSeqs();
  }

  get(memberId: number, requestId: number, waitSeconds: number): Promise<RequestView> {
    return this.reads.get(memberId, requestId, waitSeconds);
  }

  holdViews(memberId: number): Promise<HoldView[]> {
    return this.reads.holdViews(memberId);
  }

  tickets(memberId: number) {
    return this.reads.tickets(memberId);
  }
}
