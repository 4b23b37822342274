import { createHmac, randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Config } from '../config.js';
import { ConflictError, PaymentDeclinedError, ValidationError } from '../errors.js';
import type { HoldStatus } from '../db/models/index.js';
import type { PaymentRepository } from '../db/repositories/payment.repository.js';
import type { PaymentGateway } from '../payments/gateway.js';
import { paymentAuthorizations } from '../metrics.js';
import type { RedisClient } from '../redis.js';
import { acceptKeys, type AcceptKeys } from './keys.js';
import type { Accepted, RequestIntake } from './request-intake.service.js';

export const paymentSchema = z.object({
  method: z.string().trim().min(1).max(32),
  token: z.string().min(1).max(256),
});
export type PaymentDetails = z.infer<typeof paymentSchema>;

/** The most one payment may carry: `payments.amount` is DECIMAL(12,2). */
export const MAX_PAYMENT_AMOUNT = 9_999_999_999.99;

export type HoldHead = { id: number; memberId: number; performanceId: number; status: HoldStatus };

/**
 * The paying side of the accept path: a confirm authorises its payment before anything is
 * enqueued, and voids what it does not enqueue. MySQL through the payment repository only; its
 * Redis claim key from keys.ts.
 */
export class ConfirmPayment {
  private readonly keys: AcceptKeys;

  constructor(
    private readonly config: Config,
    private readonly payments: PaymentGateway,
    private readonly rows: PaymentRepository,
    private readonly intake: RequestIntake,
    private readonly redis: RedisClient,
  ) {
    this.keys = acceptKeys(config.keyPrefix);
  }

  /**
   * Authorises the payment first, so a slow or declined payment never reaches the queue. Every
   * authorisation ends captured or voided: the worker captures or voids what it applies, this
   * function voids what it does not enqueue (a failed insert, a failed enqueue, a twin that won the
   * key), and the sweeper voids what a crash in between leaves behind. One key authorises once; a
   * hold that is no longer `held` is refused before any authorisation.
   */
  async confirm(
    memberId: number,
    hold: HoldHead,
    payment: PaymentDetails,
    idempotencyKey?: string,
    waitSeconds = 0,
  ): Promise<Accepted> {
    // What a retry must repeat: the hold and the payment (by a keyed fingerprint, not the token).
    const ask = { holdId: hold.id, payment: this.fingerprint(payment) };
    const replay = async () => {
      const existing = idempotencyKey ? await this.intake.byKey(memberId, idempotencyKey) : undefined;
      return (
        existing &&
        this.intake.replay(existing, { kind: 'confirm', performanceId: hold.performanceId, payload: ask })
      );
    };
    const earlier = await replay();
    if (earlier) return earlier;
    if (hold.status !== 'held')
      throw new ConflictError(
        'hold-not-held',
        `Hold ${hold.id} is ${hold.status}; only a held hold can be confirmed.`,
      );
    const amount = await this.rows.holdAmount(hold.id);
    if (!(amount <= MAX_PAYMENT_AMOUNT))
      throw new ValidationError(
        [{ path: 'payment', message: `the amount ${amount} is more than one payment may carry` }],
        'This hold costs more than one payment may carry; hold fewer seats.',
      );
    const claim = idempotencyKey ? await this.claimKey(memberId, idempotencyKey) : undefined;
    if (idempotencyKey && !claim) {
      // A concurrent confirm with this key is authorising: it, not this one, pays.
      const twin = await replay();
      if (twin) return twin;
      throw new ConflictError('idempotency-key-reused', 'A request with this key is in flight.');
    }
    try {
      const auth = await this.payments.authorize({ amount, method: payment.method, token: payment.token });
      if (!auth.ok) {
        paymentAuthorizations.inc({ outcome: 'declined' });
        throw new PaymentDeclinedError(auth.reason);
      }
      paymentAuthorizations.inc({ outcome: 'authorized' });
      let out: Accepted & { replayed?: boolean };
      try {
        await this.rows.insertAuthorized({
          authorizationId: auth.authorizationId,
          holdId: hold.id,
          memberId,
          amount,
          method: payment.method,
        });
        out = await this.intake.accept({
          waitSeconds,
          kind: 'confirm',
          memberId,
          performanceId: hold.performanceId,
          holdId: hold.id,
          payload: { holdId: hold.id, authorizationId: auth.authorizationId, payment: ask.payment },
          idempotencyKey,
          job: (requestId) => ({
            kind: 'confirm',
            requestId,
            performanceId: hold.performanceId,
            memberId,
            holdId: hold.id,
            authorizationId: auth.authorizationId,
          }),
        });
      } catch (err) {
        // Nothing was enqueued (or a concurrent twin won the key): the authorisation must not linger.
        await this.voidUnused(auth.authorizationId);
        throw err;
      }
      if (out.replayed) await this.voidUnused(auth.authorizationId);
      delete out.replayed;
      return out;
    } finally {
      await claim?.release();
    }
  }

  /** A keyed digest of the payment: enough to tell a retry's payment from another, useless to a reader. */
  private fingerprint(payment: PaymentDetails): string {
    return createHmac('sha256', this.config.jwtSecret)
      .update(`${payment.method}\n${payment.token}`)
      .digest('base64url')
      .slice(0, 22);
  }

  /**
   * The gateway first (it is what holds the customer's money), then our row, each on its own: with
   * MySQL down the void still happens, and the sweeper settles the row later.
   */
  private async voidUnused(authorizationId: string): Promise<void> {
    await this.payments.void(authorizationId).then(
      () => paymentAuthorizations.inc({ outcome: 'voided' }),
      () => undefined, // Redis or the provider unreachable: the sweeper voids it
    );
    await this.rows.markVoided(authorizationId).catch(() => undefined);
  }

  /** One confirm at a time per (member, key): a second one does not authorise while the first does. */
  private async claimKey(memberId: number, idempotencyKey: string) {
    const key = this.keys.confirmClaim(memberId, idempotencyKey);
    const token = randomUUID();
    const got = await this.redis.set(key, token, 'PX', 120_000, 'NX');
    if (!got) return undefined;
    return {
      release: async () => {
        if ((await this.redis.get(key).catch(() => null)) === token)
          await this.redis.del(key).catch(() => undefined);
      },
    };
  }
}
