import { randomUUID, randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadScript, runScript, type RedisClient } from '../redis.js';

const SETTLE = loadScript(new URL('./lua/settle.lua', import.meta.url));

export type Authorization = { ok: true; authorizationId: string } | { ok: false; reason: string };

/**
 * The payment provider as this service sees it: authorise before enqueueing, then capture or void.
 * Capture and void are idempotent by authorisation: calling one twice has the effect of once.
 */
export interface PaymentGateway {
  authorize(input: { amount: number; method: string; token: string }): Promise<Authorization>;
  capture(authorizationId: string): Promise<void>;
  void(authorizationId: string): Promise<void>;
}

/** What the simulated provider recorded for an authorisation (tests and demos read it). */
export type LedgerEntry = {
  status: 'authorized' | 'captured' | 'voided';
  captureCalls: number;
  voidCalls: number;
};

/**
 * A stand-in provider with configurable latency and decline rate. Tokens starting with `decline`
 * are always declined and tokens starting with `approve` always approved, so tests and demos are
 * deterministic whatever the rate. It keeps a ledger in Redis, as a real provider would on its
 * side: a capture after a void (or the reverse) changes nothing.
 */
export class SimulatedPaymentGateway implements PaymentGateway {
  constructor(
    private readonly latencyMs: number,
    private readonly declineRate: number,
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
  ) {}

  private key(authorizationId: string): string {
    return `${this.keyPrefix}:payments-sim:${authorizationId}`;
  }

  async authorize(input: { amount: number; method: string; token: string }): Promise<Authorization> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    if (input.token.startsWith('decline')) return { ok: false, reason: 'The card was declined.' };
    const declined =
      !input.token.startsWith('approve') &&
      this.declineRate > 0 &&
      randomInt(1_000_000) < this.declineRate * 1_000_000;
    if (declined) return { ok: false, reason: 'The issuer declined the payment.' };
    const authorizationId = `sim_${randomUUID()}`;
    await this.redis.hset(this.key(authorizationId), 'status', 'authorized', 'amount', String(input.amount));
    await this.redis.expire(this.key(authorizationId), 7 * 86400);
    return { ok: true, authorizationId };
  }

  async capture(authorizationId: string): Promise<void> {
    await this.settle(authorizationId, 'captured', 'captureCalls');
  }

  async void(authorizationId: string): Promise<void> {
    await this.settle(authorizationId, 'voided', 'voidCalls');
  }

  private async settle(authorizationId: string, status: 'captured' | 'voided', calls: string) {
    await runScript(this.redis, SETTLE, [this.key(authorizationId)], [status, calls]);
  }

  async ledger(authorizationId: string): Promise<LedgerEntry | undefined> {
    const h = await this.redis.hgetall(this.key(authorizationId));
    if (!h['status']) return undefined;
    return {
      status: h['status'] as LedgerEntry['status'],
      captureCalls: Number(h['captureCalls'] ?? 0),
      voidCalls: Number(h['voidCalls'] ?? 0),
    };
  }
}
