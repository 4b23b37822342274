import { randomUUID, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

export type Authorization = { ok: true; authorizationId: string } | { ok: false; reason: string };

/** The payment provider as this service sees it: authorise before enqueueing, then capture or void. */
export interface PaymentGateway {
  authorize(input: { amount: number; method: string; token: string }): Promise<Authorization>;
  capture(authorizationId: string): Promise<void>;
  void(authorizationId: string): Promise<void>;
}

/**
 * A stand-in provider with configurable latency and decline rate. Tokens starting with `decline`
 * are always declined and tokens starting with `approve` always approved, so tests and demos are
 * deterministic whatever the rate.
 */
export class SimulatedPaymentGateway implements PaymentGateway {
  constructor(
    private readonly latencyMs: number,
    private readonly declineRate: number,
  ) {}

  async authorize(input: { amount: number; method: string; token: string }): Promise<Authorization> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (input.token.startsWith('decline')) return { ok: false, reason: 'The card was declined.' };
    const declined =
      !input.token.startsWith('approve') &&
      this.declineRate > 0 &&
      randomInt(1_000_000) < this.declineRate * 1_000_000;
    if (declined) return { ok: false, reason: 'The issuer declined the payment.' };
    return { ok: true, authorizationId: `sim_${randomUUID()}` };
  }

  async capture(_authorizationId: string): Promise<void> {}

  async void(_authorizationId: string): Promise<void> {}
}
