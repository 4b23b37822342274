import test from 'ava';
import { randomBytes } from 'node:crypto';
import {
  GENESIS,
  LogChecker,
  checkDraw,
  commitmentOf,
  drawKeyOf,
  drawOrder,
  entryHashOf,
  memberHashOf,
  merkleProof,
  merkleRoot,
  verifyMerkleProof,
  type LogEntry,
} from '../shared/domain/fairness.js';

const salt = 'ab'.repeat(32);
const roster = (n: number) => Array.from({ length: n }, (_, i) => memberHashOf(salt, i + 1));

test('when many small rosters are drawn with fresh seeds, then every order is equally likely (chi-square)', (t) => {
  const members = roster(4);
  const draws = 24_000;
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const order = drawOrder(members, drawKeyOf(randomBytes(32).toString('hex'))).join(',');
    counts.set(order, (counts.get(order) ?? 0) + 1);
  }
  t.is(counts.size, 24, 'all 24 orders of 4 members occur');
  const expected = draws / 24;
  const chi2 = [...counts.values()].reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  // 23 degrees of freedom: P(chi2 > 49.73) = 0.001.
  t.true(chi2 < 49.73, `chi-square ${chi2.toFixed(1)} below the 0.1 % critical value 49.73`);
  // And each member's place alone is uniform (3 degrees of freedom: 16.27 at 0.1 %).
  const first = new Map<string, number>();
  for (const [order, c] of counts)
    first.set(order.split(',')[0]!, (first.get(order.split(',')[0]!) ?? 0) + c);
  const chi2First = [...first.values()].reduce((s, c) => s + (c - draws / 4) ** 2 / (draws / 4), 0);
  t.true(chi2First < 16.27, `first place chi-square ${chi2First.toFixed(1)}`);
});

test('when the draw is recomputed from the same seed and roster, then it is the same order (a pure function)', (t) => {
  const seed = 'cd'.repeat(32);
  const members = roster(50);
  const a = drawOrder(members, drawKeyOf(seed));
  t.deepEqual(drawOrder([...members].reverse(), drawKeyOf(seed)), a, 'arrival order does not matter');
  t.notDeepEqual(drawOrder(members, drawKeyOf(seed, 'drand 123: ff00')), a, 'outside randomness changes it');
  t.deepEqual([...a].sort(), [...members].sort(), 'a permutation of the roster');
});

test('when a Merkle proof is built for every member of rosters of 1 to 17, then each verifies and no other does', (t) => {
  for (let n = 1; n <= 17; n++) {
    const r = roster(n);
    const root = merkleRoot(r);
    for (let i = 0; i < n; i++) {
      t.true(verifyMerkleProof(r[i]!, merkleProof(r, i), root), `n=${n} i=${i}`);
      t.false(verifyMerkleProof(memberHashOf(salt, 999), merkleProof(r, i), root));
    }
  }
});

function chain(tickets: number[], hashes: string[]): LogEntry[] {
  let prev = GENESIS;
  return tickets.map((ticket, i) => {
    const e = {
      n: i + 1,
      epoch: '1',
      ticket,
      memberHash: hashes[i]!,
      at: new Date(1_700_000_000_000 + i * 100).toISOString(),
      trigger: 'ticker',
      capacity: 2,
      occupancy: 1,
      perMinute: 0,
      prev,
    };
    prev = entryHashOf(e);
    return { ...e, hash: prev };
  });
}

test('when a log is checked, then a forged entry, a broken link, an out-of-order ticket and a passed cap are each named', (t) => {
  const draw = { queueMode: 'fifo' as const, commitment: commitmentOf('00'.repeat(32)) };
  const check = (entries: LogEntry[]) => {
    const c = new LogChecker(draw, []);
    for (const e of entries) {
      const f = c.next(e);
      if (!f.ok) return f;
    }
    return { ok: true as const };
  };
  const good = chain([1, 2, 3, 4], roster(4));
  t.deepEqual(check(good), { ok: true });
  t.like(check(good.map((e) => (e.n === 3 ? { ...e, ticket: 9 } : e))), { ok: false, entry: 3 });
  t.like(check([good[0]!, good[2]!, good[1]!, good[3]!]), { ok: false, entry: 3 });
  t.like(check(chain([1, 3, 2, 4], roster(4))), { ok: false, entry: 3 });
  t.like(check(chain([1, 2], roster(2)).map((e) => e)), { ok: true });
  // Three admitted at once under a capacity of two, in an otherwise well-formed chain.
  let prev = GENESIS;
  const over = chain([1, 2, 3], roster(3)).map(({ hash: _, ...e }) => {
    const x = { ...e, occupancy: e.n === 2 ? 3 : 1, prev };
    prev = entryHashOf(x);
    return { ...x, hash: prev };
  });
  t.like(check(over), { ok: false, entry: 2 });
});

test('when a seed does not match its commitment, then the draw check says so', (t) => {
  const seed = 'ef'.repeat(32);
  const r = roster(5);
  const draw = {
    queueMode: 'shuffle-at-open' as const,
    commitment: commitmentOf(seed),
    seed: '01'.repeat(32),
    rosterRoot: merkleRoot(r),
  };
  t.like(checkDraw(draw, r).finding, { ok: false, problem: 'the seed does not match its commitment' });
  t.true(checkDraw({ ...draw, seed }, r).finding.ok);
  t.like(checkDraw({ ...draw, seed }, r.slice(1)).finding, { ok: false });
});
