import { readFileSync } from 'node:fs';
import type { RedisClient } from '../redis.js';
import { defineScript, runScript, type Script } from '../redis.js';
import { admissions } from '../metrics.js';
import {
  activeRoomsKey,
  LOG_WAKE_SUFFIX,
  ROOM_KEY_NAMES,
  roomLogWakeChannel,
  roomHeadChannel,
  roomKeyList,
  roomKeys,
  type RoomKeys,
} from './keys.js';
import {
  EXACT_WINDOW,
  HEADS_KEPT,
  LAG_MS,
  estimateEtaSeconds,
  nextPollSeconds,
  paceEtaSeconds,
  pollCapSeconds,
} from './pace.js';
import type { StockState } from '../domain/seats.js';

/**
 * Each script is `room.lua` (the rules of the line) behind a header that names the keys from
 * `ROOM_KEY_NAMES` and the two arguments every script takes: the head channel and the performance.
 */
function roomScript(name: string, log: boolean): Script {
  const read = (file: string) => readFileSync(new URL(`./lua/${file}`, import.meta.url), 'utf8');
  const header = [
    `local k = {${ROOM_KEY_NAMES.map((n, i) => `${n} = KEYS[${i + 1}]`).join(', ')}}`,
    'local channel, perf = ARGV[1], ARGV[2]',
    `local wake_channel = channel .. '${LOG_WAKE_SUFFIX}'`,
    `local LAG_MS, EXACT_WINDOW, HEADS_KEPT = ${LAG_MS}, ${EXACT_WINDOW}, ${HEADS_KEPT}`,
    `local LOG = ${log}`,
  ].join('\n');
  return defineScript(`${header}\n${read('room.lua')}\n${read(name)}`);
}

const SCRIPT_FILES = {
  join: 'join.lua',
  status: 'status.lua',
  leave: 'leave.lua',
  tick: 'tick.lua',
  setStock: 'set-stock.lua',
  touch: 'touch.lua',
  draw: 'draw.lua',
  logged: 'logged.lua',
} as const;
type ScriptName = keyof typeof SCRIPT_FILES;
const scriptsOf = (log: boolean) =>
  Object.fromEntries(Object.entries(SCRIPT_FILES).map(([n, f]) => [n, roomScript(f, log)])) as Record<
    ScriptName,
    Script
  >;
/** The room's scripts; the set without the admission log exists only as a benchmark's baseline. */
const SCRIPTS = { logged: scriptsOf(true), unlogged: scriptsOf(false) };

/** One admission as the room appended it to its log list (see `admit` in room.lua). */
export type RoomAdmission = {
  /** Sequence number within the room's generation. */
  s: number;
  /** The room's generation. */
  g: string;
  t: number;
  m: number;
  at: number;
  why: string;
  cap: number;
  occ: number;
  pm: number;
};

/** One room's tick: admitted now, anybody left, a roster awaiting its draw, admissions not yet logged. */
export type TickResult = {
  admittedNow: number;
  left: number;
  frozen?: string;
  /** A drawn roster ("base:size") whose draw is not yet recorded in MySQL. */
  unrevealed?: string;
  unlogged: number;
  /** A shuffle-at-open pre-queue: ms until it opens (and is drawn). */
  opensIn?: number;
};

export type { StockState } from '../domain/seats.js';

/** What a room publishes on its head channel (and every script answer carries). */
export type RoomHead = {
  performanceId: number;
  /** Redis time (ms) at which it was read. */
  ts: number;
  /** The highest ticket admitted so far. */
  through: number;
  /** The last ticket handed out. */
  seq: number;
  stock: StockState | '';
  /** Admissions over the last minute. */
  perMinute: number;
  /** When the sale opens (ms; 0 = no gate). */
  opensAt: number;
  paused: boolean;
  capacity: number;
  /** The outflow cap in force (admissions per minute; 0 = none). */
  perMinuteCap: number;
  /** The highest ticket whose admission is in the log: admitted members up to it may know it. */
  logged: number;
  /** Set when a member just left: API processes forget the ticket they remembered for it. */
  left?: number;
};

export type WaitingStatus = {
  status: 'waiting' | 'admitted' | 'sold-out';
  ticket: number;
  position: number;
  etaSeconds: number;
  nextPollSeconds: number;
  admittedUntil?: string;
  opensAt?: string;
  /** In a shuffle-at-open pre-queue: when places are drawn (the answer then has no position). */
  drawAt?: string;
};

/** A member's status as a script read it. */
export type RawStatus = {
  status: 'waiting' | 'admitted' | 'sold-out';
  ticket: number;
  position: number;
  admittedUntil?: number;
  head: RoomHead;
  admittedNow?: number;
  /** Admitted, but not yet in the log: reads as the front of the line until it is. */
  pending?: boolean;
  /** In a shuffle-at-open pre-queue (no ticket yet). */
  prequeue?: boolean;
};

type Answer = RawStatus | { unknown: true } | { absent: true; head: RoomHead };

export class WaitingRoom {
  private readonly idleMs: number;
  /** Set once the deployment is known (`bindDeployment`): heads are published under its namespace. */
  channels: string;
  /**
   * Told of an admission made here that is not yet in the log (up to `ticket`): the workers' log
   * writer writes it at once; this is the fallback should none hear it (fairness.service.ts).
   */
  onPending: ((performanceId: number, ticket: number) => void) | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    readonly idleSeconds: number,
    /** False only for a benchmark's baseline: the room without its admission log. */
    private readonly withLog = true,
  ) {
    this.idleMs = idleSeconds * 1000;
    this.channels = keyPrefix;
  }

  keys(performanceId: number): RoomKeys {
    return roomKeys(this.keyPrefix, performanceId);
  }

  headChannel(): string {
    return roomHeadChannel(this.channels);
  }

  /** Where a room says that admissions await the log's writer (a message per run of them: the performance id). */
  logWakeChannel(): string {
    return roomLogWakeChannel(this.channels);
  }

  private async run<T>(name: ScriptName, performanceId: number, args: string[]): Promise<T> {
    const keys = roomKeyList(this.keys(performanceId));
    const script = (this.withLog ? SCRIPTS.logged : SCRIPTS.unlogged)[name];
    const raw = await runScript(this.redis, script, keys, [
      this.headChannel(),
      String(performanceId),
      ...args,
    ]);
    return (typeof raw === 'string' ? JSON.parse(raw) : raw) as T;
  }

  /**
   * Idempotent: a repeat (a refresh, a new tab) returns the same ticket and never moves the member back.
   * `countStock` is asked only when the room does not know what is left to sell (a quiet room).
   */
  async join(
    performanceId: number,
    memberId: number,
    capacity: number,
    countStock: () => Promise<StockState>,
  ): Promise<RawStatus> {
    const run = (stock: string) =>
      this.run<Answer>('join', performanceId, [
        String(memberId),
        String(capacity),
        String(this.idleMs),
        stock,
      ]);
    let raw = await run('');
    if ('unknown' in raw) raw = await run(await countStock());
    if (!('status' in raw)) throw new Error('the waiting room did not answer a join');
    if (raw.admittedNow) admissions.inc({ trigger: 'join' }, raw.admittedNow);
    await this.markActive(performanceId);
    // This join admitted the member, which counts once the log's writer (a worker, woken when the
    // room's list of admissions to log filled) has put it in MySQL. The room does not wait for that
    // write (it would bound admissions by its latency): the answer says "next" (position 1, ask
    // again now), and the API's answer is held, like a long-poll, for the head the write publishes
    // (LineView).
    if (raw.pending) this.onPending?.(performanceId, raw.ticket);
    return raw;
  }

  /**
   * The member's exact status, or the room's head alone when the member is neither in line nor
   * admitted. `touch` counts the read as activity of an admitted member.
   */
  async status(
    performanceId: number,
    memberId: number,
    touch = true,
  ): Promise<RawStatus | { head: RoomHead }> {
    const raw = await this.run<Answer>('status', performanceId, [
      String(memberId),
      String(this.idleMs),
      touch ? '1' : '0',
    ]);
    if ('unknown' in raw) throw new Error('unexpected answer');
    return raw;
  }

  /**
   * Applies a frozen roster's draw (member ids in drawn order, computed for `frozen` = "base:size").
   * False when another process applied it first or the roster is not that one.
   */
  async applyDraw(performanceId: number, frozen: string, order: readonly number[]): Promise<boolean> {
    // Written in chunks of plain commands (idempotent: two workers write the same tickets), then
    // moved into the line by one script once complete.
    const base = Number(frozen.split(':')[0]);
    const key = this.keys(performanceId).drawing;
    for (let i = 0; i < order.length; i += 5000) {
      const args: (string | number)[] = [];
      for (let j = i; j < Math.min(order.length, i + 5000); j++) args.push(base + j + 1, order[j]!);
      await this.redis.zadd(key, ...args);
    }
    const r = await this.run<{ applied: boolean; admittedNow?: number; stale?: true; incomplete?: true }>(
      'draw',
      performanceId,
      [frozen, String(this.idleMs)],
    );
    if (r.admittedNow) admissions.inc({ trigger: 'ticker' }, r.admittedNow);
    // Another process applied it first: the copy written here is of no use.
    if (!r.applied && !r.stale && !r.incomplete) await this.redis.del(key);
    return r.applied;
  }

  /** Whether a frozen roster's draw is applied (its tickets are in the line). */
  async drawApplied(performanceId: number): Promise<boolean> {
    return (await this.redis.exists(this.keys(performanceId).drawn)) === 1;
  }

  /** Pre-queue members who arrived after `arrival`: [member id, arrival], at most `limit`. */
  async preQueueSince(performanceId: number, arrival: number, limit: number): Promise<[number, number][]> {
    const r = await this.redis.zrangebyscore(
      this.keys(performanceId).pre,
      `(${arrival}`,
      '+inf',
      'WITHSCORES',
      'LIMIT',
      0,
      limit,
    );
    const out: [number, number][] = [];
    for (let i = 0; i < r.length; i += 2) out.push([Number(r[i]), Number(r[i + 1])]);
    return out;
  }

  /** The frozen roster: member ids in arrival order. */
  async roster(performanceId: number): Promise<number[]> {
    return (await this.redis.zrange(this.keys(performanceId).roster, 0, -1)).map(Number);
  }

  /** The room's generation (set by its first admission or its draw). */
  async generation(performanceId: number): Promise<string> {
    return (await this.redis.get(this.keys(performanceId).gen)) ?? '0';
  }

  /** The roster is in MySQL (and in the line): Redis need not keep it. */
  async forgetRoster(performanceId: number): Promise<void> {
    await this.redis.del(this.keys(performanceId).roster);
  }

  /** Admissions not yet in the log, oldest first (at most `limit`). */
  async unlogged(performanceId: number, limit: number): Promise<RoomAdmission[]> {
    const raw = await this.redis.lrange(this.keys(performanceId).log, 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as RoomAdmission);
  }

  /** The highest ticket whose admission is in the log (0 for a room that lost its data). */
  async loggedThrough(performanceId: number): Promise<number> {
    return Number((await this.redis.get(this.keys(performanceId).logged)) ?? 0);
  }

  /**
   * The log holds the room's admissions up to `last`: they count from now on. Answers how many
   * admissions remain to be logged (arrived meanwhile): nothing wakes the writer for those.
   */
  async markLogged(performanceId: number, last: RoomAdmission): Promise<number> {
    return Number(await this.run<number>('logged', performanceId, [last.g, String(last.s), String(last.t)]));
  }

  /** Records what is left to sell (after a batch's commit, before its buyers leave and free their slots). */
  async setStock(performanceId: number, stock: StockState): Promise<void> {
    await this.run('setStock', performanceId, [stock]);
  }

  async leave(performanceId: number, memberId: number): Promise<boolean> {
    const r = await this.run<{ removed: number; admittedNow: number; through: number }>(
      'leave',
      performanceId,
      [String(memberId), String(this.idleMs)],
    );
    if (r.admittedNow) admissions.inc({ trigger: 'leave' }, r.admittedNow);
    // Whoever this admitted learns it by the head the log's write publishes; nobody waits for it here.
    if (r.admittedNow) this.onPending?.(performanceId, r.through);
    return r.removed > 0;
  }

  /** The gate: true if admitted (and records the activity). */
  async touch(performanceId: number, memberId: number): Promise<boolean> {
    return (await this.run<number>('touch', performanceId, [String(memberId), String(this.idleMs)])) === 1;
  }

  /**
   * Admits whoever fits in every non-empty room, as far as the seats allow, and publishes each
   * room's head; run on a timer so nobody has to poll. `countStock` says, for each room, what is
   * left to sell.
   */
  async tick(
    countStock: (performanceIds: number[]) => Promise<Map<number, StockState>>,
    after?: (performanceId: number, r: TickResult) => Promise<void>,
  ): Promise<number> {
    const ids = await this.activePerformanceIds();
    if (!ids.length) return 0;
    const stocks = await countStock(ids);
    let admitted = 0;
    for (const performanceId of ids) {
      const r = await this.run<TickResult>('tick', performanceId, [
        String(this.idleMs),
        stocks.get(performanceId) ?? '',
      ]);
      admitted += r.admittedNow;
      if (r.admittedNow) admissions.inc({ trigger: 'ticker' }, r.admittedNow);
      if (after) await after(performanceId, r);
      if (r.left === 0) await this.forgetIfEmpty(performanceId);
    }
    return admitted;
  }

  /** Writes the operator's gate (see room.lua); the ticker applies it within one tick. */
  async setGate(
    performanceId: number,
    gate: {
      opensAt: Date | null;
      paused: boolean;
      capacity: number;
      shuffle?: boolean;
      perMinute?: number | null;
    },
  ): Promise<void> {
    await this.redis.hset(this.keys(performanceId).gate, {
      opensAt: String(gate.opensAt?.getTime() ?? 0),
      paused: gate.paused ? '1' : '0',
      capacity: String(gate.capacity),
      mode: gate.shuffle ? 'shuffle' : 'fifo',
      perMinute: String(gate.perMinute ?? 0),
    });
  }

  /** Admissions per minute, as the ticker last measured them (see room.lua). */
  async lastMinuteAdmissions(performanceId: number): Promise<number> {
    return Number((await this.redis.get(this.keys(performanceId).rate)) ?? 0);
  }

  async sizes(performanceId: number): Promise<{ waiting: number; admitted: number }> {
    const k = this.keys(performanceId);
    const [w, a] = await Promise.all([this.redis.zcard(k.line), this.redis.zcard(k.admitted)]);
    return { waiting: w, admitted: a };
  }

  async activePerformanceIds(): Promise<number[]> {
    return (await this.redis.smembers(activeRoomsKey(this.keyPrefix))).map(Number);
  }

  // Every join marks its room active after it entered the line (no per-process memo: another
  // process's ticker may have forgotten the room since), so a room with anybody in it stays active.
  private async markActive(performanceId: number): Promise<void> {
    await this.redis.sadd(activeRoomsKey(this.keyPrefix), String(performanceId));
  }

  /**
   * The active set and a room live in different Cluster slots, so no script sees both. A join that
   * lands between the ticker's "empty" and its removal is caught by looking again after removing:
   * either that look sees the new member, or the join's own mark comes after the removal.
   */
  private async forgetIfEmpty(performanceId: number): Promise<void> {
    await this.redis.srem(activeRoomsKey(this.keyPrefix), String(performanceId));
    const { waiting, admitted } = await this.sizes(performanceId);
    if (waiting + admitted > 0) await this.markActive(performanceId);
  }

  /** The answer a member reads, from an exact status. */
  toStatus(raw: RawStatus, capacity: number, now = Date.now()): WaitingStatus {
    return answerOf(
      raw.status,
      raw.ticket,
      raw.position,
      raw.head,
      capacity,
      this.idleSeconds,
      now,
      raw.admittedUntil,
      raw.prequeue,
    );
  }
}

/** A member's answer: its place, the wait estimated from the head's measured rate, and the pace. */
export function answerOf(
  status: WaitingStatus['status'],
  ticket: number,
  position: number,
  head: RoomHead,
  capacity: number,
  idleSeconds: number,
  now: number,
  admittedUntil?: number,
  prequeue = false,
): WaitingStatus {
  const opensAt = head.opensAt > now ? { opensAt: new Date(head.opensAt).toISOString() } : {};
  if (prequeue && status === 'waiting') {
    // No place yet: it is drawn at opening (or right now, when the opening has just passed).
    const drawAt = new Date(Math.max(head.opensAt, now)).toISOString();
    const etaSeconds = Math.max(0, Math.ceil((head.opensAt - now) / 1000));
    return {
      status,
      ticket: 0,
      position: 0,
      etaSeconds,
      nextPollSeconds: Math.max(1, Math.min(pollCapSeconds(idleSeconds), Math.floor(etaSeconds / 2))),
      ...opensAt,
      drawAt,
    };
  }
  if (status !== 'waiting') {
    return {
      status,
      ticket,
      position: 0,
      etaSeconds: 0,
      nextPollSeconds: nextPollSeconds(status, 0, idleSeconds),
      ...(admittedUntil !== undefined ? { admittedUntil: new Date(admittedUntil).toISOString() } : {}),
    };
  }
  const cap = head.capacity || capacity;
  const untilOpen = (head.opensAt - now) / 1000;
  // The outflow cap bounds the measured rate: nobody is admitted faster than it.
  const rate =
    head.perMinuteCap > 0 ? Math.min(head.perMinute || head.perMinuteCap, head.perMinuteCap) : head.perMinute;
  const etaSeconds = estimateEtaSeconds(position, rate, cap, idleSeconds, untilOpen);
  const paceEta = paceEtaSeconds(position, rate, cap, untilOpen);
  return {
    status,
    ticket,
    position,
    etaSeconds,
    nextPollSeconds: nextPollSeconds(status, paceEta, idleSeconds),
    ...opensAt,
  };
}
