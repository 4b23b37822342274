import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { CommitWork } from '../../domain/batch.js';
import { sqlTime } from './commit-writer.repository.js';

// The commit outbox (SQL only): a batch's after-commit work, recorded in the batch's transaction and
// claimed by one worker at a time, so that the work of a worker that died is done by another. A claim
// is a lease: its owner renews it while working; one left unrenewed is taken over.

export type PendingWork = { lastSeq: number; work: CommitWork };

export class CommitOutboxRepository {
  constructor(private readonly sequelize: Sequelize) {}

  /** Records a batch's work, claimed by `owner`, and deletes the entries whose work is done. */
  async record(
    performanceId: number,
    entry: PendingWork,
    o: { owner: string; completed: readonly number[]; now: Date },
    transaction: Transaction,
  ): Promise<void> {
    if (o.completed.length) await this.deleteWork(performanceId, [...o.completed], transaction);
    await this.sequelize.query(
      `INSERT INTO commit_outbox (performance_id, last_seq, work, created_at, claimed_by, claimed_at)
       VALUES (?, ?, ?, ?, ?, NOW(3))`,
      {
        type: QueryTypes.INSERT,
        replacements: [performanceId, entry.lastSeq, JSON.stringify(entry.work), sqlTime(o.now), o.owner],
        transaction,
      },
    );
  }

  /**
   * Takes over after-commit work left behind: every entry of these performances whose claim was not
   * renewed for `timeoutMs` (its worker died or froze, or its steps kept failing) is claimed for `owner` in one
   * atomic update, so that one worker does it. Returns the entries `owner` holds and has not
   * `handled` (finished, or still working on).
   */
  async claimStale(
    performanceIds: number[],
    owner: string,
    timeoutMs: number,
    handled: (performanceId: number, lastSeq: number) => boolean,
  ): Promise<(PendingWork & { performanceId: number })[]> {
    if (!performanceIds.length) return [];
    const micros = Math.trunc(timeoutMs * 1000);
    // A plain read first (usually nothing, or only this worker's own fresh entries): the claiming
    // update, which locks, runs only when some entry is stale.
    const rows = await this.sequelize.query<{
      performanceId: number;
      lastSeq: number;
      claimedBy: string;
      stale: number;
    }>(
      `SELECT performance_id AS performanceId, last_seq AS lastSeq, claimed_by AS claimedBy,
              claimed_at < NOW(3) - INTERVAL ? MICROSECOND AS stale
         FROM commit_outbox WHERE performance_id IN (?)`,
      { type: QueryTypes.SELECT, replacements: [micros, performanceIds] },
    );
    const open = (r: { performanceId: number; lastSeq: number }) =>
      !handled(Number(r.performanceId), Number(r.lastSeq));
    const stale = rows.filter((r) => Number(r.stale) === 1 && (r.claimedBy !== owner || open(r)));
    if (!stale.length) return [];
    await this.sequelize.query(
      `UPDATE commit_outbox SET claimed_by = ?, claimed_at = NOW(3)
        WHERE performance_id IN (?) AND claimed_at < NOW(3) - INTERVAL ? MICROSECOND`,
      { type: QueryTypes.UPDATE, replacements: [owner, performanceIds, micros] },
    );
    // What this worker claimed just now (not its own fresh entries, which it is about to do).
    const key = (r: { performanceId: number; lastSeq: number }) => `${r.performanceId}:${r.lastSeq}`;
    const wanted = new Set(stale.map(key));
    const mine = await this.sequelize.query<{ performanceId: number; lastSeq: number; work: string }>(
      `SELECT performance_id AS performanceId, last_seq AS lastSeq, work FROM commit_outbox
        WHERE performance_id IN (?) AND claimed_by = ? ORDER BY performance_id, last_seq`,
      { type: QueryTypes.SELECT, replacements: [performanceIds, owner] },
    );
    return mine
      .map((r) => ({ performanceId: Number(r.performanceId), lastSeq: Number(r.lastSeq), work: r.work }))
      .filter((r) => wanted.has(key(r)) && !handled(r.performanceId, r.lastSeq))
      .map((r) => ({ ...r, work: JSON.parse(r.work) as CommitWork }));
  }

  /** Renews `owner`'s claims (its lease on the work it is doing) on these performances' entries. */
  async renewClaims(performanceIds: number[], owner: string): Promise<void> {
    if (!performanceIds.length) return;
    await this.sequelize.query(
      'UPDATE commit_outbox SET claimed_at = NOW(3) WHERE performance_id IN (?) AND claimed_by = ?',
      { type: QueryTypes.UPDATE, replacements: [performanceIds, owner] },
    );
  }

  async deleteWork(performanceId: number, lastSeqs: number[], transaction?: Transaction): Promise<void> {
    if (!lastSeqs.length) return;
    await this.sequelize.query('DELETE FROM commit_outbox WHERE performance_id = ? AND last_seq IN (?)', {
      type: QueryTypes.DELETE,
      replacements: [performanceId, lastSeqs],
      transaction,
    });
  }
}
