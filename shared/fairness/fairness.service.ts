import { randomBytes } from 'node:crypto';
import type { Sequelize } from 'sequelize';
import type { Logger } from '../logger.js';
import { NotFoundError } from '../errors.js';
import {
  FairnessRepository,
  type DrawRow,
  type LogRow,
  type LogWrite,
  type StoredHead,
} from '../db/repositories/fairness.repository.js';
import {
  commitmentOf,
  drawKeyOf,
  drawOrder,
  entryHashOf,
  memberHashOf,
  memberHasher,
  merkleProofIn,
  merkleTree,
  sortKeyOf,
  merkleRoot,
  type LogEntry,
  type MerkleStep,
  type MerkleTree,
} from '../domain/fairness.js';
import type { RoomAdmission, WaitingRoom } from '../waiting-room/waiting-room.js';

const DRAIN_BATCH = 2000;
/**
 * A room's log writes start at most this often per process: while admissions stream in, each
 * write takes what gathered since the last (one transaction for many entries, not one for each),
 * and an admission waits at most this long, plus a write, to count. A write starts at once when
 * none started within this time, and the next as soon as it is done when writes take longer.
 * A write costs about 5 ms of CPU whatever its size (writer, MySQL and Redis, measured on a busy
 * 2-core VM: six round trips, each waking three processes): at 100 ms a member waits 50 ms on
 * average to count; at 25 ms the writes' CPU slows a busy room's admissions more than it gains.
 */
const DRAIN_EVERY_MS = 50;
/** How long an admission made on a request's path may wait for the workers' writer before its process writes it. */
const CATCH_UP_MS = 500;
/** Recorded rosters whose Merkle tree a process keeps (a 100,000-member roster's takes 6.4 MB). */
const TREES_KEPT = 4;
export const LOG_PAGE = 1000;
export const ROSTER_PAGE = 10_000;

/** A log row as published: the member only as its salted hash. */
export function publicEntry(r: LogRow): LogEntry {
  return {
    n: r.n,
    epoch: r.roomGen,
    ticket: r.ticket,
    memberHash: r.memberHash,
    at: r.at.toISOString(),
    trigger: r.trigger,
    capacity: r.capacity,
    occupancy: r.occupancy,
    perMinute: r.perMinute,
    prev: r.prev,
    hash: r.hash,
  };
}

/**
 * The log entries for the room's `pending` admissions after `head`, in the room's order: each
 * hashes the one before. Admissions the head says are written already (same generation, sequence
 * up to its last) are left out.
 */
function chain(
  head: StoredHead,
  pending: readonly RoomAdmission[],
  hashMember: (memberId: number) => string,
): LogRow[] {
  let n = head.length;
  let prev = head.head;
  const out: LogRow[] = [];
  // Admissions of one run share their time: its ISO form is computed once.
  let atMs = NaN;
  let at = new Date(0);
  let atIso = '';
  for (const a of pending) {
    const epoch = String(a.g);
    if (head.lastGen === epoch && a.s <= head.lastRseq) continue;
    if (a.at !== atMs) {
      atMs = a.at;
      at = new Date(a.at);
      atIso = at.toISOString();
    }
    const e = {
      n: ++n,
      epoch,
      ticket: a.t,
      memberHash: hashMember(a.m),
      at: atIso,
      trigger: a.why,
      capacity: a.cap,
      occupancy: a.occ,
      perMinute: a.pm,
      prev,
    };
    prev = entryHashOf(e);
    out.push({
      n: e.n,
      roomGen: epoch,
      rseq: a.s,
      ticket: a.t,
      memberId: a.m,
      memberHash: e.memberHash,
      at,
      trigger: a.why,
      capacity: a.cap,
      occupancy: a.occ,
      perMinute: a.pm,
      prev: e.prev,
      hash: prev,
    });
  }
  return out;
}

/** Whether any of the admissions belongs to a room generation older than `gen` (the log head's). */
function olderThan(pending: readonly RoomAdmission[], gen: string | null): boolean {
  // Generations are Redis times in ms: exact as numbers.
  if (gen === null) return false;
  const head = Number(gen);
  return pending.some((a) => Number(a.g) < head);
}

/**
 * The admissions the log does not hold yet. The head's generation and sequence say so for its own
 * generation (`chain` skips those); admissions of an older one come from a writer that read them
 * before Redis lost the room and stalled while the new generation was logged. Written by another
 * writer before the loss, they are left out; written by nobody, they are appended now, after the new
 * generation's entries: late, never lost (their epoch keeps its own ticket order for `verify`).
 */
async function notWritten(
  log: LogWrite,
  performanceId: number,
  head: StoredHead,
  pending: readonly RoomAdmission[],
): Promise<readonly RoomAdmission[]> {
  if (!olderThan(pending, head.lastGen)) return pending;
  const written = new Map<string, Set<number>>();
  for (const a of pending) {
    const g = String(a.g);
    // (The head's generation `chain` sorts out; a newer one the log cannot hold yet.)
    if (Number(g) >= Number(head.lastGen) || written.has(g)) continue;
    const own = pending.filter((b) => String(b.g) === g);
    written.set(g, await log.written(performanceId, g, own[0]!.s, own[own.length - 1]!.s));
  }
  return pending.filter((a) => !written.get(String(a.g))?.has(a.s));
}

/**
 * The head after `out`: its length and hash are the last entry's; its generation and sequence the
 * newest admission the log holds (late entries of an older generation do not move them back).
 */
function headAfter(head: StoredHead, out: readonly LogRow[]): StoredHead & { lastGen: string } {
  const tail = out[out.length - 1]!;
  let lastGen = head.lastGen;
  let lastRseq = head.lastRseq;
  for (const r of out)
    if (r.roomGen === lastGen) {
      if (r.rseq > lastRseq) lastRseq = r.rseq;
    } else if (lastGen === null || Number(r.roomGen) > Number(lastGen)) {
      lastGen = r.roomGen;
      lastRseq = r.rseq;
    }
  return { length: tail.n, head: tail.hash, lastGen: lastGen!, lastRseq };
}

/**
 * The sale's fairness: the draw of a shuffle-at-open pre-queue (its secret seed committed before
 * opening, revealed with the roster's Merkle root once the draw is applied) and the admission log,
 * written from the room's list of admissions into a hash chain in MySQL, in the room's order.
 */
export class Fairness {
  readonly rows: FairnessRepository;
  /** Per process: the salts (never change) of performances whose log this process writes. */
  private readonly salts = new Map<number, string>();
  /**
   * Per process: the member hashes and sort keys of a pre-queue, computed before its opening as it
   * fills (`prepare`), so that the draw at opening only sorts. Keyed by the draw key it used.
   */
  private readonly prepared = new Map<
    number,
    { drawKey: string; last: number; byMember: Map<number, { hash: string; sortKey: string }> }
  >();
  private readonly draining = new Map<
    number,
    { running?: Promise<void>; next?: Promise<void>; startedAt: number }
  >();
  /** Per process: recorded rosters' Merkle trees, for receipts (`rosterTree`). */
  private readonly trees = new Map<number, Promise<MerkleTree>>();
  /** Fault injection (tests): runs after a draw is applied, before it is recorded. */
  beforeReveal: (() => void) | undefined;
  /**
   * Per room: the admission made here whose entry `catchUp` checks for when its timer fires, the
   * highest ticket admitted here since (checked next), and the timer.
   */
  private readonly catchingUp = new Map<number, { ticket: number; latest: number; timer: NodeJS.Timeout }>();
  /**
   * Per process: the log's head as this process last wrote (or read) it, per room. A write after it
   * checks that it is still the head instead of reading it under a lock (one statement less each).
   */
  private readonly heads = new Map<number, StoredHead>();
  /** Per process: each performance's member hasher (its salt decoded once). */
  private readonly hashers = new Map<number, (memberId: number) => string>();

  constructor(
    sequelize: Sequelize,
    private readonly room: WaitingRoom,
    private readonly logger: Logger,
  ) {
    this.rows = new FairnessRepository(sequelize);
  }

  /** The performance's draw row, created with fresh secrets on first use. */
  async ensure(performanceId: number): Promise<DrawRow> {
    let row = await this.rows.draw(performanceId);
    if (!row) {
      const seed = randomBytes(32).toString('hex');
      await this.rows.ensure(performanceId, {
        seed,
        commitment: commitmentOf(seed),
        salt: randomBytes(32).toString('hex'),
      });
      row = await this.rows.draw(performanceId);
      if (!row) throw new NotFoundError('performance-not-found', `No performance ${performanceId}.`);
    }
    return row;
  }

  private async salt(performanceId: number): Promise<string> {
    let s = this.salts.get(performanceId);
    if (!s) {
      s = (await this.ensure(performanceId)).salt;
      this.salts.set(performanceId, s);
    }
    return s;
  }

  /**
   * Writes the room's admissions not yet in the log, in the room's order: each batch under the
   * draw row's lock (one writer at a time across processes), skipping what an earlier writer wrote
   * (the room generation and its sequence number are the idempotency key), then tells the room.
   */
  drain(performanceId: number): Promise<void> {
    // Coalesced per process and room: a caller arriving while a drain runs waits for the one run
    // after it (which sees its admissions); any number of callers meanwhile share that run.
    let st = this.draining.get(performanceId);
    if (!st) this.draining.set(performanceId, (st = { startedAt: 0 }));
    const state = st;
    if (state.next) return state.next;
    const start = (): Promise<void> => {
      state.startedAt = performance.now();
      const p = this.drainOnce(performanceId).finally(() => {
        if (state.running === p) state.running = undefined;
      });
      state.running = p;
      return p;
    };
    if (!state.running && performance.now() - state.startedAt >= DRAIN_EVERY_MS) return start();
    state.next = (state.running ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => new Promise((r) => setTimeout(r, state.startedAt + DRAIN_EVERY_MS - performance.now())))
      .then(() => {
        state.next = undefined;
        return start();
      });
    return state.next;
  }

  /**
   * The fallback for an admission made on a request's path (up to `ticket`): the workers' writer logs
   * it within milliseconds; if it is still not in the log after CATCH_UP_MS (no worker heard of
   * it), this process writes it. One timer per room and process, however many admissions: it
   * checks the admission it was set for, and if that one is logged, is set again for the latest
   * since (while admissions stream in, the log always lags the latest by a write; only an
   * admission left unlogged for CATCH_UP_MS is the writer's failure).
   */
  catchUp(performanceId: number, ticket: number): void {
    const pending = this.catchingUp.get(performanceId);
    if (pending) {
      pending.latest = Math.max(pending.latest, ticket);
      return;
    }
    const timer = setTimeout(() => {
      const entry = this.catchingUp.get(performanceId);
      this.catchingUp.delete(performanceId);
      if (!entry) return;
      this.room
        .loggedThrough(performanceId)
        .then((logged) => {
          if (logged < entry.ticket) return this.drain(performanceId);
          if (logged < entry.latest) this.catchUp(performanceId, entry.latest);
        })
        .catch((err: unknown) => this.logger.warn({ err, performanceId }, 'admission log write failed'));
    }, CATCH_UP_MS);
    timer.unref();
    this.catchingUp.set(performanceId, { ticket, latest: ticket, timer });
  }

  /** Stops the fallback's timers (the process is closing). */
  close(): void {
    for (const { timer } of this.catchingUp.values()) clearTimeout(timer);
    this.catchingUp.clear();
  }

  private async hasher(performanceId: number): Promise<(memberId: number) => string> {
    let h = this.hashers.get(performanceId);
    if (!h) this.hashers.set(performanceId, (h = memberHasher(await this.salt(performanceId))));
    return h;
  }

  private async drainOnce(performanceId: number): Promise<void> {
    const hashMember = await this.hasher(performanceId);
    for (;;) {
      const pending = await this.room.unlogged(performanceId, DRAIN_BATCH);
      const last = pending[pending.length - 1];
      if (!last) return;
      // The head this process wrote last spares the locking read, unless another writer moved it
      // (or the admissions are of an older generation than it: see `notWritten`).
      const known = this.heads.get(performanceId);
      const planned = known && !olderThan(pending, known.lastGen) && chain(known, pending, hashMember);
      // (Nothing planned: all written already, by this process; the list is trimmed after the commit.)
      if (!planned || planned.length) {
        this.heads.delete(performanceId);
        const head = await this.rows.writeLog(async (log) => {
          if (known && planned) {
            const next = headAfter(known, planned);
            if (await log.append(performanceId, planned, next, known)) return next;
          }
          const current = await log.lockedHead(performanceId);
          if (!current) throw new Error(`no draw row for performance ${performanceId}`);
          const out = chain(current, await notWritten(log, performanceId, current, pending), hashMember);
          if (!out.length) return current;
          const next = headAfter(current, out);
          await log.append(performanceId, out, next);
          return next;
        });
        this.heads.set(performanceId, head);
      }
      const remaining = await this.room.markLogged(performanceId, last);
      if (remaining === 0) return;
      // A full batch: a backlog, written on at once. Otherwise admissions arrived while this batch
      // was written; no wake comes for them (the list was not empty): the next write takes them.
      if (pending.length < DRAIN_BATCH) {
        this.drain(performanceId).catch((err: unknown) =>
          this.logger.warn({ err, performanceId }, 'admission log write failed'),
        );
        return;
      }
    }
  }

  /**
   * Draws a frozen roster ("base:size"): member hashes in arrival order, sorted by the published
   * rule, applied to the line (admission begins), then the roster, its root and the seed are
   * recorded and so revealed. Run again (the ticker does, while the roster is in Redis and not
   * recorded), it records the draw applied before without applying it twice.
   */
  async draw(performanceId: number, frozen: string): Promise<void> {
    const row = await this.ensure(performanceId);
    // Recorded already (a worker stopped before it could forget the roster): nothing more to do.
    if (row.revealedAt) return this.room.forgetRoster(performanceId);
    const ids = await this.room.roster(performanceId);
    const [base, size] = frozen.split(':').map(Number) as [number, number];
    if (ids.length !== size) {
      this.logger.warn({ performanceId, frozen, found: ids.length }, 'roster does not match its freeze');
      return;
    }
    const key = drawKeyOf(row.seed, row.outsideRandomness);
    const ready = this.prepared.get(performanceId);
    const cache = ready?.drawKey === key.toString('hex') ? ready.byMember : undefined;
    const sortKeys = new Map<string, string>();
    const hashes = ids.map((id) => {
      const c = cache?.get(id);
      if (c) sortKeys.set(c.hash, c.sortKey);
      return c?.hash ?? memberHashOf(row.salt, id);
    });
    const byHash = new Map(hashes.map((h, i) => [h, ids[i]!]));
    const order = drawOrder(hashes, key, sortKeys);
    this.prepared.delete(performanceId);
    // Applied already when a worker stopped between applying the draw and recording it: the same
    // order (a pure function of seed and roster) is recorded now.
    if (await this.room.drawApplied(performanceId))
      this.logger.info({ performanceId, frozen }, 'recording a draw applied earlier');
    else
      await this.room.applyDraw(
        performanceId,
        frozen,
        order.map((h) => byHash.get(h)!),
      );
    // The first admissions count once logged: write them before recording the roster (a second).
    await this.drain(performanceId);
    this.beforeReveal?.();
    const place = new Map(order.map((h, i) => [h, i + 1]));
    const gen = await this.room.generation(performanceId);
    await this.rows.reveal(
      performanceId,
      ids.map((memberId, i) => ({ memberId, memberHash: hashes[i]!, place: place.get(hashes[i]!)! })),
      { roomGen: gen, ticketBase: base, rosterRoot: merkleRoot(hashes) },
    );
    await this.room.forgetRoster(performanceId);
  }

  /** Computes ahead, for the pre-queue's members that joined since the last call, what the draw needs. */
  async prepare(performanceId: number): Promise<void> {
    const row = await this.ensure(performanceId);
    const key = drawKeyOf(row.seed, row.outsideRandomness);
    const drawKey = key.toString('hex');
    let p = this.prepared.get(performanceId);
    if (!p || p.drawKey !== drawKey)
      this.prepared.set(performanceId, (p = { drawKey, last: 0, byMember: new Map() }));
    const fresh = await this.room.preQueueSince(performanceId, p.last, 20_000);
    for (const [memberId, arrival] of fresh) {
      const hash = memberHashOf(row.salt, memberId);
      p.byMember.set(memberId, { hash, sortKey: sortKeyOf(key, hash) });
      p.last = Math.max(p.last, arrival);
    }
  }

  /** What anyone may read: the commitment, the draw once revealed, the chain's head and length. */
  async published(performanceId: number) {
    const row = await this.ensure(performanceId);
    const revealed = row.revealedAt !== null;
    return {
      queueMode: row.queueMode,
      commitment: row.commitment,
      ...(row.salesOpenAt ? { drawAt: row.salesOpenAt.toISOString() } : {}),
      outsideRandomness: row.outsideRandomness,
      ...(revealed
        ? {
            seed: row.seed,
            rosterRoot: row.rosterRoot!,
            rosterSize: row.rosterSize!,
            ticketBase: row.ticketBase!,
            epoch: row.roomGen!,
            revealedAt: row.revealedAt!.toISOString(),
          }
        : {}),
      log: { length: row.logLength, head: row.logHead },
      rules: {
        commitment: 'SHA-256(seed bytes)',
        memberHash: 'HMAC-SHA256(per-performance salt, decimal member id)',
        drawKey: 'seed bytes, or SHA-256(seed bytes || UTF-8 outsideRandomness) when named',
        order:
          'roster (member hashes in arrival order) sorted ascending by hex HMAC-SHA256(draw key, member hash); place i gets ticket ticketBase + i',
        rosterRoot:
          'Merkle tree over the roster in arrival order: leaf SHA-256(0x00 || hash), node SHA-256(0x01 || l || r), an odd node is carried up',
        entryHash: 'SHA-256 of n|prev|epoch|ticket|memberHash|at|trigger|capacity|occupancy|perMinute',
      },
    };
  }

  async logPage(performanceId: number, after: number) {
    await this.ensure(performanceId);
    const rows = await this.rows.log(performanceId, after, LOG_PAGE);
    const items = rows.map(publicEntry);
    const last = items[items.length - 1];
    return { items, ...(items.length === LOG_PAGE && last ? { next: last.n } : {}) };
  }

  async rosterPage(performanceId: number, after: number) {
    const row = await this.ensure(performanceId);
    if (!row.revealedAt) return { items: [] as string[] };
    const items = await this.rows.roster(performanceId, after, ROSTER_PAGE);
    return { items, ...(items.length === ROSTER_PAGE ? { next: after + items.length } : {}) };
  }

  /**
   * The recorded roster's Merkle tree, built once per process and kept for the last few
   * performances: a recorded roster never changes, and receipts are read by many members at once
   * after a sale (each would otherwise read the whole roster and hash it again).
   */
  private rosterTree(performanceId: number): Promise<MerkleTree> {
    let tree = this.trees.get(performanceId);
    if (!tree) {
      tree = this.rows.roster(performanceId, 0, 10_000_000).then(merkleTree);
      tree.catch(() => this.trees.delete(performanceId));
      this.trees.set(performanceId, tree);
      for (const id of this.trees.keys()) if (this.trees.size > TREES_KEPT) this.trees.delete(id);
    }
    return tree;
  }

  /** A member's receipt: its hash, its drawn place with the Merkle proof, its admission entry. */
  async receipt(performanceId: number, memberId: number) {
    const row = await this.ensure(performanceId);
    const memberHash = memberHashOf(row.salt, memberId);
    const [entry, inRoster] = await Promise.all([
      this.rows.memberEntry(performanceId, memberId),
      row.revealedAt ? this.rows.rosterMember(performanceId, memberId) : undefined,
    ]);
    let draw: { place: number; ticket: number; arrival: number; proof: MerkleStep[] } | undefined;
    if (inRoster) {
      draw = {
        arrival: inRoster.arrival,
        place: inRoster.place,
        ticket: row.ticketBase! + inRoster.place,
        proof: merkleProofIn(await this.rosterTree(performanceId), inRoster.arrival - 1),
      };
    }
    return {
      performanceId,
      memberHash,
      commitment: row.commitment,
      ...(row.rosterRoot ? { rosterRoot: row.rosterRoot } : {}),
      ...(draw ? { draw } : {}),
      ...(entry ? { ticket: entry.ticket, admission: publicEntry(entry) } : {}),
    };
  }
}
