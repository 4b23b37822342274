// Checks a sale's fairness from outside, over HTTP only: the published draw (seed against its
// commitment, the roster against its Merkle root, the order from seed and roster), the admission
// log (chain, ticket order, the drawn places, capacity and outflow cap in force) and a member's
// receipt. The rules are those of shared/domain/fairness.ts, which the service itself uses.
import {
  LogChecker,
  checkDraw,
  verifyMerkleProof,
  type Finding,
  type LogEntry,
  type MerkleStep,
  type PublishedDraw,
} from '../../shared/domain/fairness.js';

export type Receipt = {
  performanceId: number;
  memberHash: string;
  rosterRoot?: string;
  draw?: { arrival: number; place: number; ticket: number; proof: MerkleStep[] };
  ticket?: number;
  admission?: LogEntry;
};

export type Verdict = {
  ok: boolean;
  /** One line per check that passed, and the first that failed. */
  lines: string[];
  /** The first broken entry (log entry number), when the failure is one. */
  entry?: number;
  entries: number;
};

type Doc = PublishedDraw & { log: { length: number; head: string } };

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return (await res.json()) as T;
}

export async function verifyFairness(
  base: string,
  performanceId: number,
  receipt?: Receipt,
): Promise<Verdict> {
  const api = `${base.replace(/\/$/, '')}/api/performances/${performanceId}`;
  const lines: string[] = [];
  const fail = (f: Finding, entries: number): Verdict => {
    if (f.ok) throw new Error('not a failure');
    lines.push(`FAIL ${f.entry !== undefined ? `entry ${f.entry}: ` : ''}${f.problem}`);
    return { ok: false, lines, entries, ...(f.entry !== undefined ? { entry: f.entry } : {}) };
  };
  const doc = await getJson<Doc>(`${api}/fairness`);
  lines.push(`queue mode ${doc.queueMode}, commitment ${doc.commitment}`);

  // The draw.
  let roster: string[] = [];
  if (doc.seed !== undefined) {
    for (let after = 0; ;) {
      const page = await getJson<{ items: string[]; next?: number }>(`${api}/fairness/roster?after=${after}`);
      roster = roster.concat(page.items);
      if (page.next === undefined) break;
      after = page.next;
    }
    if (doc.rosterSize !== undefined && roster.length !== doc.rosterSize)
      return fail(
        { ok: false, problem: `the roster has ${roster.length} members, ${doc.rosterSize} published` },
        0,
      );
  }
  const { finding, order } = checkDraw(doc, roster);
  if (!finding.ok) return fail(finding, 0);
  if (doc.seed !== undefined)
    lines.push(`ok seed matches its commitment; roster of ${roster.length} matches root ${doc.rosterRoot}`);
  else lines.push('ok no draw revealed (nothing to check yet)');

  // The log, page by page, checked as it arrives.
  const checker = new LogChecker(doc, order);
  const byN = new Map<number, string>();
  const wanted = receipt?.admission?.n;
  let count = 0;
  for (let after = 0; ;) {
    const page = await getJson<{ items: LogEntry[]; next?: number }>(`${api}/fairness/log?after=${after}`);
    for (const e of page.items) {
      const f = checker.next(e);
      if (!f.ok) return fail(f, count);
      if (e.n === wanted) byN.set(e.n, e.hash);
      count++;
    }
    if (page.next === undefined) break;
    after = page.next;
  }
  if (count < doc.log.length)
    return fail(
      { ok: false, entry: count + 1, problem: `missing: the log has ${count} of ${doc.log.length} entries` },
      count,
    );
  lines.push(`ok chain of ${count} entries intact, head ${checker.head.head}`);
  lines.push('ok admission followed the published order, within the capacity and outflow cap in force');

  if (receipt) {
    if (receipt.draw) {
      if (!doc.rosterRoot || !verifyMerkleProof(receipt.memberHash, receipt.draw.proof, doc.rosterRoot))
        return fail(
          { ok: false, problem: "the receipt's Merkle proof does not lead to the roster root" },
          count,
        );
      const place = order.indexOf(receipt.memberHash) + 1;
      if (place !== receipt.draw.place || receipt.draw.ticket !== (doc.ticketBase ?? 0) + place)
        return fail(
          { ok: false, problem: `the receipt says place ${receipt.draw.place}, the draw gives ${place}` },
          count,
        );
      lines.push(`ok receipt: in the roster, drawn place ${place}`);
    }
    if (receipt.admission) {
      const e = receipt.admission;
      if (byN.get(e.n) !== e.hash || e.memberHash !== receipt.memberHash)
        return fail(
          { ok: false, entry: e.n, problem: "the receipt's admission is not that entry of the log" },
          count,
        );
      lines.push(`ok receipt: admitted as entry ${e.n} with ticket ${e.ticket}`);
    }
  }
  return { ok: true, lines, entries: count };
}
