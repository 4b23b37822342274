// The published rules of a fair sale: pure functions anyone can recompute (the verifier, the tests
// and the service use these same functions). Hex strings are lowercase SHA-256 digests.
import * as nodeCrypto from 'node:crypto';
import { createHash, createHmac } from 'node:crypto';

export const GENESIS = '0'.repeat(64);

// One-shot hashing (Node >= 20.12) skips the Hash object: a third of the time for a short input,
// which counts once per admission (the log's chain) and per entry checked (verify).
const oneShot = (nodeCrypto as { hash?: typeof nodeCrypto.hash }).hash;

export function sha256Hex(data: string | Buffer): string {
  return oneShot ? oneShot('sha256', data, 'hex') : createHash('sha256').update(data).digest('hex');
}

/** The commitment published before opening: SHA-256 of the seed's bytes (the seed is 32 bytes, hex). */
export function commitmentOf(seedHex: string): string {
  return sha256Hex(Buffer.from(seedHex, 'hex'));
}

/** A member id as the public sees it: HMAC-SHA256(per-performance salt, decimal id). */
export function memberHashOf(saltHex: string, memberId: number): string {
  return memberHasher(saltHex)(memberId);
}

/** `memberHashOf` for many members of one performance (the salt decoded once). */
export function memberHasher(saltHex: string): (memberId: number) => string {
  // A plain Buffer key: faster per HMAC than a KeyObject (which each createHmac copies again).
  const key = Buffer.from(saltHex, 'hex');
  return (memberId) => createHmac('sha256', key).update(String(memberId)).digest('hex');
}

/**
 * The key of the draw: the seed alone, or, when the operator named outside randomness (for example
 * a drand round's value, pasted before opening), SHA-256(seed bytes ‖ UTF-8 of that value).
 */
export function drawKeyOf(seedHex: string, outside?: string | null): Buffer {
  const seed = Buffer.from(seedHex, 'hex');
  if (!outside) return seed;
  return createHash('sha256').update(seed).update(Buffer.from(outside, 'utf8')).digest();
}

/** A member's sort key in the draw: HMAC-SHA256(draw key, member hash), as hex. */
export function sortKeyOf(key: Buffer, memberHash: string): string {
  return createHmac('sha256', key).update(memberHash).digest('hex');
}

/**
 * The draw: the roster (member hashes, in arrival order) sorted by HMAC-SHA256(draw key, member
 * hash), ascending as hex, ties (never seen in practice) by the member hash. Place i (1-based) of
 * the result is the i-th member admitted among the pre-queue.
 */
export function drawOrder(
  roster: readonly string[],
  key: Buffer,
  sortKeys?: ReadonlyMap<string, string>,
): string[] {
  const keyed = roster.map((h) => [sortKeys?.get(h) ?? sortKeyOf(key, h), h] as const);
  keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return keyed.map(([, h]) => h);
}

// Merkle tree over the roster in arrival order (RFC 6962 style prefixes: 0x00 leaf, 0x01 node);
// an odd node at the end of a level is carried up unchanged.
function leafHash(memberHash: string): Buffer {
  return createHash('sha256')
    .update(Buffer.from([0]))
    .update(memberHash, 'utf8')
    .digest();
}
function nodeHash(l: Buffer, r: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.from([1]))
    .update(l)
    .update(r)
    .digest();
}

function levels(roster: readonly string[]): Buffer[][] {
  const out: Buffer[][] = [roster.map(leafHash)];
  while (out[out.length - 1]!.length > 1) {
    const prev = out[out.length - 1]!;
    const next: Buffer[] = [];
    for (let i = 0; i < prev.length; i += 2)
      next.push(i + 1 < prev.length ? nodeHash(prev[i]!, prev[i + 1]!) : prev[i]!);
    out.push(next);
  }
  return out;
}

/** The roster's Merkle root (SHA-256 of nothing for an empty roster). */
export function merkleRoot(roster: readonly string[]): string {
  if (!roster.length) return sha256Hex('');
  const l = levels(roster);
  return l[l.length - 1]![0]!.toString('hex');
}

export type MerkleStep = { side: 'left' | 'right'; hash: string };

/** The proof that roster[index] is in the tree: the sibling hashes from the leaf up. */
export function merkleProof(roster: readonly string[], index: number): MerkleStep[] {
  return merkleProofIn(merkleTree(roster), index);
}

/** A roster's whole Merkle tree, leaves first, each level one buffer of 32-byte nodes (compact to keep). */
export type MerkleTree = Buffer[];

export function merkleTree(roster: readonly string[]): MerkleTree {
  return levels(roster).map((level) => Buffer.concat(level));
}

/** `merkleProof` from a tree built once: O(log n) per proof. */
export function merkleProofIn(tree: MerkleTree, index: number): MerkleStep[] {
  const proof: MerkleStep[] = [];
  let i = index;
  for (const level of tree.slice(0, -1)) {
    const sibling = i % 2 === 0 ? i + 1 : i - 1;
    if (sibling * 32 < level.length)
      proof.push({
        side: i % 2 === 0 ? 'right' : 'left',
        hash: level.subarray(sibling * 32, sibling * 32 + 32).toString('hex'),
      });
    i = Math.floor(i / 2);
  }
  return proof;
}

export function verifyMerkleProof(memberHash: string, proof: readonly MerkleStep[], root: string): boolean {
  let h = leafHash(memberHash);
  for (const step of proof) {
    const s = Buffer.from(step.hash, 'hex');
    h = step.side === 'right' ? nodeHash(h, s) : nodeHash(s, h);
  }
  return h.toString('hex') === root;
}

/** One admission as published. `epoch` is the room's generation: a new one starts after Redis lost the room. */
export type LogEntry = {
  n: number;
  epoch: string;
  ticket: number;
  memberHash: string;
  at: string;
  trigger: string;
  /** The capacity in force and the members admitted at once right after this admission. */
  capacity: number;
  occupancy: number;
  /** The outflow cap in force (admissions per minute; 0 = none). */
  perMinute: number;
  prev: string;
  hash: string;
};

/** An entry's hash: SHA-256 over its fields joined by '|', in this order, the previous hash included. */
export function entryHashOf(e: Omit<LogEntry, 'hash'>): string {
  return sha256Hex(
    [
      e.n,
      e.prev,
      e.epoch,
      e.ticket,
      e.memberHash,
      e.at,
      e.trigger,
      e.capacity,
      e.occupancy,
      e.perMinute,
    ].join('|'),
  );
}

/** What the verifier needs of the draw (as `GET /fairness` publishes it). */
export type PublishedDraw = {
  queueMode: 'fifo' | 'shuffle-at-open';
  commitment: string;
  seed?: string;
  outsideRandomness?: string | null;
  rosterRoot?: string;
  rosterSize?: number;
  ticketBase?: number;
  epoch?: string;
};

/** The first thing found wrong, naming the entry (n) when it is one. */
export type Finding = { ok: true } | { ok: false; entry?: number; problem: string };

/** Checks the draw: the seed against its commitment, the roster against its root. Returns the order. */
export function checkDraw(
  draw: PublishedDraw,
  roster: readonly string[],
): { finding: Finding; order: string[] } {
  if (draw.queueMode !== 'shuffle-at-open' || draw.seed === undefined)
    return { finding: { ok: true }, order: [] };
  if (commitmentOf(draw.seed) !== draw.commitment)
    return { finding: { ok: false, problem: 'the seed does not match its commitment' }, order: [] };
  if (draw.rosterRoot !== undefined && merkleRoot(roster) !== draw.rosterRoot)
    return { finding: { ok: false, problem: 'the roster does not match its Merkle root' }, order: [] };
  return { finding: { ok: true }, order: drawOrder(roster, drawKeyOf(draw.seed, draw.outsideRandomness)) };
}

/**
 * Checks the log in one pass: each entry hashes the previous; within an epoch tickets rise (the room
 * admits the lowest ticket first); in the epoch of the draw, a pre-queue member's ticket is the
 * ticket base plus its drawn place and no one else holds such a ticket; occupancy never passed the
 * capacity in force, nor an epoch's admissions within any 60 s the outflow cap in force.
 */
export class LogChecker {
  private prev = GENESIS;
  private n = 0;
  private lastTicket = new Map<string, number>();
  private readonly place: Map<string, number>;
  /** Per epoch: its admission times in log order, and the first within the last minute. */
  private readonly windows = new Map<string, { times: number[]; from: number }>();

  constructor(
    private readonly draw: PublishedDraw,
    order: readonly string[],
  ) {
    this.place = new Map(order.map((h, i) => [h, i + 1]));
  }

  /** Checks the next entry; the first finding that is not ok stops the check. */
  next(e: LogEntry): Finding {
    const bad = (problem: string): Finding => ({ ok: false, entry: e.n, problem });
    if (e.n !== this.n + 1) return bad(`expected entry ${this.n + 1}, found entry ${e.n}`);
    if (e.prev !== this.prev) return bad('does not link to the previous entry (prev hash differs)');
    if (entryHashOf(e) !== e.hash) return bad('its hash does not match its contents (forged or altered)');
    const last = this.lastTicket.get(e.epoch) ?? 0;
    if (e.ticket <= last) return bad(`ticket ${e.ticket} admitted after ticket ${last} (out of order)`);
    if (this.draw.seed !== undefined && this.draw.epoch === e.epoch && this.draw.ticketBase !== undefined) {
      const place = this.place.get(e.memberHash);
      const base = this.draw.ticketBase;
      const size = this.draw.rosterSize ?? this.place.size;
      if (place !== undefined && e.ticket !== base + place)
        return bad(`member drawn to place ${place} admitted with ticket ${e.ticket}, not ${base + place}`);
      if (place === undefined && e.ticket > base && e.ticket <= base + size)
        return bad(`ticket ${e.ticket} belongs to the draw but went to a member not in the roster`);
    }
    if (e.occupancy > e.capacity) return bad(`${e.occupancy} admitted at once, capacity ${e.capacity}`);
    // Per epoch: a room that lost its Redis counts its minute again, and a writer that stalled across
    // the loss appends the old epoch's last admissions after the new one's (late, in their order).
    const t = Date.parse(e.at);
    let w = this.windows.get(e.epoch);
    if (!w) this.windows.set(e.epoch, (w = { times: [], from: 0 }));
    w.times.push(t);
    while (w.times[w.from]! <= t - 60_000) w.from++;
    const inMinute = w.times.length - w.from;
    if (e.perMinute > 0 && inMinute > e.perMinute)
      return bad(`${inMinute} admissions within a minute, cap ${e.perMinute}`);
    this.lastTicket.set(e.epoch, e.ticket);
    this.prev = e.hash;
    this.n = e.n;
    return { ok: true };
  }

  /** The chain head and length checked so far. */
  get head(): { length: number; head: string } {
    return { length: this.n, head: this.prev };
  }
}
