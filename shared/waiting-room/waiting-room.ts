import type { RedisClient } from '../redis.js';
import { performanceTag, defineScript, runScript } from '../redis.js';
import { admissions } from '../metrics.js';

// Redis key layout of the waiting room (owned here and nowhere else). All keys of one performance
// share a hash tag, so every script below runs on one Redis Cluster slot:
//   <p>:wr:{perf-N}:seq       ticket counter
//   <p>:wr:{perf-N}:line      ZSET member -> ticket (the members still waiting)
//   <p>:wr:{perf-N}:admitted  ZSET member -> deadline (ms; pushed forward by every request)
//   <p>:wr:{perf-N}:tickets   HASH member -> ticket (admitted members only)
//   <p>:wr:{perf-N}:admits    LIST "ms:count" of recent admissions (for the measured rate)
//   <p>:wr:{perf-N}:capacity  the performance's admission capacity
//   <p>:wr:{perf-N}:rate      admissions in the last minute, refreshed by the admission ticker
//   <p>:wr:{perf-N}:gate      HASH the operator's controls: opensAt (ms), paused (1), capacity
//   <p>:wr:{perf-N}:stock     what is left to sell: "open" (a seat is available), "none" (every unsold
//                             seat is held) or "sold-out"; counted from MySQL by the ticker (or by
//                             the API on a join when missing). open/none live 3 s; sold-out is
//                             final; missing admits (as before the room knew the inventory).
//   <p>:wr:active             SET of performance ids whose room is not empty (for the admission ticker)
// A waiting member costs one sorted-set entry; nothing else is stored per waiting member.

const ADMIT_FN = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The operator's gate (sale controls): nobody is admitted before opensAt or while paused, and a
-- capacity set there overrides the one callers pass.
local function gate_capacity(k, now, capacity)
  local g = redis.call('HMGET', k.gate, 'opensAt', 'paused', 'capacity')
  if g[2] == '1' or tonumber(g[1] or '0') > now then return 0 end
  return tonumber(g[3] or '') or capacity
end
local function admit(k, now, capacity, idle)
  local expired = redis.call('ZRANGEBYSCORE', k.admitted, '-inf', now)
  for i = 1, #expired do redis.call('HDEL', k.tickets, expired[i]) end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', k.admitted, '-inf', now) end
  local free = gate_capacity(k, now, capacity) - redis.call('ZCARD', k.admitted)
  local n = 0
  -- Admission follows the seats: nobody new while none is available, nor once all are sold. Unknown
  -- (no tick for 3 s) admits: the count is refreshed by every tick, and a join counts when unknown.
  local stock = redis.call('GET', k.stock)
  if free > 0 and (not stock or stock == 'open') then
    local popped = redis.call('ZPOPMIN', k.line, free)
    for i = 1, #popped, 2 do
      redis.call('ZADD', k.admitted, now + idle, popped[i])
      redis.call('HSET', k.tickets, popped[i], popped[i + 1])
      n = n + 1
    end
    if n > 0 then
      redis.call('LPUSH', k.admits, now .. ':' .. n)
      redis.call('LTRIM', k.admits, 0, 199)
    end
  end
  return n
end
local function admissions_last_minute(k, now)
  local entries = redis.call('LRANGE', k.admits, 0, 199)
  local total = 0
  for i = 1, #entries do
    local sep = string.find(entries[i], ':')
    local ts = tonumber(string.sub(entries[i], 1, sep - 1))
    if now - ts > 60000 then break end
    total = total + tonumber(string.sub(entries[i], sep + 1))
  end
  return total
end
local function set_stock(k, stock)
  if stock == 'sold-out' then redis.call('SET', k.stock, stock)
  elseif stock ~= '' and redis.call('GET', k.stock) ~= 'sold-out' then redis.call('SET', k.stock, stock, 'PX', 3000) end
end
local function status(k, member, now, idle, touch)
  local deadline = redis.call('ZSCORE', k.admitted, member)
  if deadline and tonumber(deadline) > now then
    if touch == '1' then
      redis.call('ZADD', k.admitted, now + idle, member)
      deadline = now + idle
    end
    return {'admitted', redis.call('HGET', k.tickets, member) or '0', 0, tostring(deadline), 0}
  end
  local ticket = redis.call('ZSCORE', k.line, member)
  if not ticket then return false end
  if redis.call('GET', k.stock) == 'sold-out' then return {'sold-out', ticket, 0, '0', 0} end
  local rank = redis.call('ZRANK', k.line, member)
  return {'waiting', ticket, rank + 1, '0', tonumber(redis.call('GET', k.rate) or '0')}
end
local k = {seq = KEYS[1], line = KEYS[2], admitted = KEYS[3], tickets = KEYS[4], admits = KEYS[5], capacity = KEYS[6], rate = KEYS[7], gate = KEYS[8], stock = KEYS[9]}
`;

// Without a known stock (ARGV[4] empty and none stored) it answers {'unknown'}: the caller counts
// the seats and calls again with the count's verdict.
const JOIN = defineScript(`${ADMIT_FN}
local member, capacity, idle = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local stock = redis.call('GET', k.stock)
if not stock then
  if ARGV[4] == '' then return {'unknown'} end
  set_stock(k, ARGV[4])
  stock = ARGV[4]
end
redis.call('SET', k.capacity, capacity)
local now = now_ms()
local n = admit(k, now, capacity, idle)
local deadline = redis.call('ZSCORE', k.admitted, member)
if stock == 'sold-out' and not (deadline and tonumber(deadline) > now) then
  return {'sold-out', redis.call('ZSCORE', k.line, member) or '0', 0, '0', 0}
end
if not deadline and not redis.call('ZSCORE', k.line, member) then
  redis.call('ZADD', k.line, redis.call('INCR', k.seq), member)
  n = n + admit(k, now, capacity, idle)
end
-- The status, and how many members this call admitted (for the admissions counter).
local st = status(k, member, now, idle, '1')
if st then st[6] = n end
return st
`);

const STATUS = defineScript(`${ADMIT_FN}
return status(k, ARGV[1], now_ms(), tonumber(ARGV[2]), ARGV[3])
`);

const LEAVE = defineScript(`${ADMIT_FN}
local member, idle = ARGV[1], tonumber(ARGV[2])
local removed = redis.call('ZREM', k.line, member) + redis.call('ZREM', k.admitted, member)
redis.call('HDEL', k.tickets, member)
local capacity = tonumber(redis.call('GET', k.capacity) or '0')
return {removed, admit(k, now_ms(), capacity, idle)}
`);

// Returns 1 while the room still has anybody in it, so the ticker can forget empty rooms.
// ARGV[2] is the stock the ticker just counted.
const TICK = defineScript(`${ADMIT_FN}
local capacity = tonumber(redis.call('GET', k.capacity) or '0')
set_stock(k, ARGV[2])
local now = now_ms()
local n = admit(k, now, capacity, tonumber(ARGV[1]))
-- The measured rate is computed here, on the ticker, not on every status poll.
redis.call('SET', k.rate, admissions_last_minute(k, now))
local left = redis.call('ZCARD', k.line) + redis.call('ZCARD', k.admitted)
-- A sold-out room needs no more ticks: its line only reads "sold-out" from now on.
if redis.call('GET', k.stock) == 'sold-out' then left = 0 end
return {n, left}
`);

const SET_STOCK = defineScript(`${ADMIT_FN}
set_stock(k, ARGV[1])
return 1
`);

// Activity of an admitted member: pushes the idle deadline forward; 1 if admitted, else 0.
const TOUCH = defineScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = redis.call('ZSCORE', KEYS[1], ARGV[1])
if deadline and tonumber(deadline) > now then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  return 1
end
return 0
`);

/** What is left to sell, as the waiting room needs it. */
export type StockState = 'open' | 'none' | 'sold-out';

export type WaitingStatus = {
  status: 'waiting' | 'admitted' | 'sold-out';
  ticket: number;
  position: number;
  etaSeconds: number;
  admittedUntil?: string;
};

type RawStatus = [string, string, number, string, number, number?] | ['unknown'] | null;

export class WaitingRoom {
  private readonly idleMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly idleSeconds: number,
  ) {
    this.idleMs = idleSeconds * 1000;
  }

  keys(performanceId: number): string[] {
    const base = `${this.keyPrefix}:wr:${performanceTag(performanceId)}`;
    return ['seq', 'line', 'admitted', 'tickets', 'admits', 'capacity', 'rate', 'gate', 'stock'].map(
      (s) => `${base}:${s}`,
    );
  }

  private activeKey(): string {
    return `${this.keyPrefix}:wr:active`;
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
  ): Promise<WaitingStatus> {
    const run = (stock: string) =>
      runScript(this.redis, JOIN, this.keys(performanceId), [
        String(memberId),
        String(capacity),
        String(this.idleMs),
        stock,
      ]) as Promise<RawStatus>;
    let raw = await run('');
    if (raw?.[0] === 'unknown') raw = await run(await countStock());
    if (raw?.[5]) admissions.inc({ trigger: 'join' }, raw[5]);
    await this.markActive(performanceId);
    return this.toStatus(raw, capacity)!;
  }

  /** The member's status, or null when not in line nor admitted. Counts as activity of an admitted member. */
  async status(performanceId: number, memberId: number, capacity: number): Promise<WaitingStatus | null> {
    const raw = (await runScript(this.redis, STATUS, this.keys(performanceId), [
      String(memberId),
      String(this.idleMs),
      '1',
    ])) as RawStatus;
    return this.toStatus(raw, capacity);
  }

  /** Records what is left to sell (after a batch's commit, before its buyers leave and free their slots). */
  async setStock(performanceId: number, stock: StockState): Promise<void> {
    await runScript(this.redis, SET_STOCK, this.keys(performanceId), [stock]);
  }

  async leave(performanceId: number, memberId: number): Promise<boolean> {
    const [removed, admitted] = (await runScript(this.redis, LEAVE, this.keys(performanceId), [
      String(memberId),
      String(this.idleMs),
    ])) as [number, number];
    if (admitted) admissions.inc({ trigger: 'leave' }, admitted);
    return removed > 0;
  }

  /** The gate: true if admitted (and records the activity). */
  async touch(performanceId: number, memberId: number): Promise<boolean> {
    const admitted = this.keys(performanceId)[2]!;
    return (await runScript(this.redis, TOUCH, [admitted], [String(memberId), String(this.idleMs)])) === 1;
  }

  /**
   * Admits whoever fits in every non-empty room, as far as the seats allow; run on a timer so nobody
   * has to poll. `countStock` says, for each room, what is left to sell.
   */
  async tick(countStock: (performanceIds: number[]) => Promise<Map<number, StockState>>): Promise<number> {
    const ids = await this.redis.smembers(this.activeKey());
    if (!ids.length) return 0;
    const stocks = await countStock(ids.map(Number));
    let admitted = 0;
    for (const id of ids) {
      const performanceId = Number(id);
      const [n, left] = (await runScript(this.redis, TICK, this.keys(performanceId), [
        String(this.idleMs),
        stocks.get(performanceId) ?? '',
      ])) as [number, number];
      admitted += n;
      if (n) admissions.inc({ trigger: 'ticker' }, n);
      if (left === 0) await this.forgetIfEmpty(performanceId);
    }
    return admitted;
  }

  /** Writes the operator's gate (see ADMIT_FN); the ticker applies it within one tick. */
  async setGate(
    performanceId: number,
    gate: { opensAt: Date | null; paused: boolean; capacity: number },
  ): Promise<void> {
    const key = this.keys(performanceId)[7]!;
    await this.redis.hset(key, {
      opensAt: String(gate.opensAt?.getTime() ?? 0),
      paused: gate.paused ? '1' : '0',
      capacity: String(gate.capacity),
    });
  }

  /** Admissions over the last minute, as the ticker last measured them. */
  async lastMinuteAdmissions(performanceId: number): Promise<number> {
    return Number((await this.redis.get(this.keys(performanceId)[6]!)) ?? 0);
  }

  async sizes(performanceId: number): Promise<{ waiting: number; admitted: number }> {
    const [, line, admitted] = this.keys(performanceId);
    const [w, a] = await Promise.all([this.redis.zcard(line!), this.redis.zcard(admitted!)]);
    return { waiting: w, admitted: a };
  }

  async activePerformanceIds(): Promise<number[]> {
    return (await this.redis.smembers(this.activeKey())).map(Number);
  }

  // Every join marks its room active after it entered the line (no per-process memo: another
  // process's ticker may have forgotten the room since), so a room with anybody in it stays active.
  private async markActive(performanceId: number): Promise<void> {
    await this.redis.sadd(this.activeKey(), String(performanceId));
  }

  /**
   * The active set and a room live in different Cluster slots, so no script sees both. A join that
   * lands between the ticker's "empty" and its removal is caught by looking again after removing:
   * either that look sees the new member, or the join's own mark comes after the removal.
   */
  private async forgetIfEmpty(performanceId: number): Promise<void> {
    await this.redis.srem(this.activeKey(), String(performanceId));
    const { waiting, admitted } = await this.sizes(performanceId);
    if (waiting + admitted > 0) await this.markActive(performanceId);
  }

  private toStatus(raw: RawStatus, capacity: number): WaitingStatus | null {
    if (!raw || raw[0] === 'unknown') return null;
    const [status, ticket, position, deadline, perMinute] = raw as [string, string, number, string, number];
    if (status === 'sold-out')
      return { status: 'sold-out', ticket: Number(ticket), position: 0, etaSeconds: 0 };
    if (status === 'admitted')
      return {
        status: 'admitted',
        ticket: Number(ticket),
        position: 0,
        etaSeconds: 0,
        admittedUntil: new Date(Number(deadline)).toISOString(),
      };
    return {
      status: 'waiting',
      ticket: Number(ticket),
      position,
      etaSeconds: estimateEtaSeconds(position, perMinute, capacity, this.idleSeconds),
    };
  }
}

/**
 * From the admissions measured over the last minute; with none measured yet, assume the slowest
 * turnover the rules allow (every admitted member idling out).
 */
export function estimateEtaSeconds(
  position: number,
  admittedLastMinute: number,
  capacity: number,
  idleSeconds: number,
) {
  if (admittedLastMinute > 0) return Math.ceil((position * 60) / admittedLastMinute);
  return Math.ceil(position / Math.max(1, capacity)) * idleSeconds;
}
