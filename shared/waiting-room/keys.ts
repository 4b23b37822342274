import { performanceTag } from '../redis.js';

/**
 * The waiting room's Redis key layout, owned here and used by the scripts, the code and the tests.
 * All keys of one performance share a hash tag, so every script runs on one Redis Cluster slot.
 * A waiting member costs one entry in `line`; nothing else is stored per waiting member.
 */
export type RoomKeys = {
  /** Ticket counter: the last ticket handed out. */
  seq: string;
  /** ZSET member -> ticket: the members still waiting. */
  line: string;
  /** ZSET member -> deadline (ms), pushed forward by every request of the member. */
  admitted: string;
  /** HASH member -> ticket, admitted members only. */
  tickets: string;
  /** The highest ticket admitted so far: every waiting member below it has been admitted. */
  through: string;
  /**
   * ZSET through -> Redis time (ms) of each admission: where the head stood a moment ago, so that
   * every API process answers far-back members from the same moment (see `pace.ts`).
   */
  heads: string;
  /** LIST "ms:count" of recent admissions (for the measured rate). */
  admits: string;
  /** The performance's admission capacity as the API last passed it. */
  capacity: string;
  /** Admissions per minute (over the last minute, or since admissions began), measured by the ticker. */
  rate: string;
  /** HASH of the operator's controls: opensAt (ms), paused (1), capacity. */
  gate: string;
  /**
   * What is left to sell: "open" (a seat is available), "none" (every unsold seat is held) or
   * "sold-out"; counted from MySQL by the ticker (or by the API on a join when missing). open/none
   * live 3 s; sold-out is final; missing admits.
   */
  stock: string;
  /** ZSET member -> arrival number: a shuffle-at-open room's pre-queue, before the opening. */
  pre: string;
  /** Arrival counter of the pre-queue. */
  preseq: string;
  /** The pre-queue frozen at opening (renamed from `pre`), until its draw is applied. */
  roster: string;
  /** "base:size" once the roster is frozen; its members get tickets base+1..base+size. */
  frozen: string;
  /** ZSET member -> ticket: the draw being written (in chunks) before draw.lua moves it into the line. */
  drawing: string;
  /** Set once the draw is applied to the line: admission may begin. */
  drawn: string;
  /** The room's generation (Redis time of its first use): a Redis loss starts a new one. */
  gen: string;
  /** LIST of admissions (JSON) in the order the room admitted, until the log's writer drained them. */
  log: string;
  /** Counter of admissions appended to `log` in this generation. */
  logseq: string;
  /** The highest ticket whose admission is in MySQL's log: an admission counts from then on. */
  logged: string;
  /** ZSET rseq -> ms of the last minute's admissions, kept while an outflow cap is set. */
  recent: string;
};

/** The order in which scripts receive the keys (KEYS[1..n]); the Lua side is generated from it. */
export const ROOM_KEY_NAMES = [
  'seq',
  'line',
  'admitted',
  'tickets',
  'through',
  'heads',
  'admits',
  'capacity',
  'rate',
  'gate',
  'stock',
  'pre',
  'preseq',
  'roster',
  'frozen',
  'drawing',
  'drawn',
  'gen',
  'log',
  'logseq',
  'logged',
  'recent',
] as const satisfies readonly (keyof RoomKeys)[];

export function roomKeys(keyPrefix: string, performanceId: number): RoomKeys {
  const base = `${keyPrefix}:wr:${performanceTag(performanceId)}`;
  return Object.fromEntries(ROOM_KEY_NAMES.map((name) => [name, `${base}:${name}`])) as RoomKeys;
}

/** The keys in script order. */
export function roomKeyList(keys: RoomKeys): string[] {
  return ROOM_KEY_NAMES.map((name) => keys[name]);
}

/** SET of performance ids whose room is not empty (the admission ticker's work list). */
export function activeRoomsKey(keyPrefix: string): string {
  return `${keyPrefix}:wr:active`;
}

/**
 * The pub/sub channel on which each room publishes its head (see `RoomHead`) from inside its
 * scripts, so that every subscriber hears one room's heads in the order they were written.
 * Named under the deployment's channel namespace (pub/sub ignores the database index).
 */
export function roomHeadChannel(channels: string): string {
  return `${channels}:wr:head`;
}

/**
 * The suffix (after the head channel) of the channel on which a room says that its list of
 * admissions to log went from empty to not empty. The log's writer listens there rather than to
 * every head: once per run of admissions, not once per admission (the writer comes back by itself
 * for whatever arrived while it wrote).
 */
export const LOG_WAKE_SUFFIX = ':unlogged';

export function roomLogWakeChannel(channels: string): string {
  return roomHeadChannel(channels) + LOG_WAKE_SUFFIX;
}
