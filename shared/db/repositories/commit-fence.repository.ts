import { QueryTypes, Transaction, type Sequelize } from 'sequelize';

// A performance's one-writer fence (SQL only): the row batches lock, in `commit_fences`, a table no
// accept's foreign key reads. The locking statement writes who holds the row (its connection) and
// since when, so that a worker taking over can see a stale holder's uncommitted mark and end it.

export type Fence = {
  /** The last queue sequence applied (or voided by a restore). */
  appliedSeq: number;
  /** The last seat-event sequence. */
  eventSeq: number;
  /** The worker process that took the performance over last: the only one that applies batches. */
  holder: string;
};

/** Who holds the fence row right now, as its (uncommitted) mark says. */
export type FenceHolder = { conn: number; heldMs: number };

export class CommitFenceRepository {
  constructor(private readonly sequelize: Sequelize) {}

  private async readRow(performanceId: number, transaction?: Transaction): Promise<Fence | undefined> {
    const [row] = await this.sequelize.query<{ appliedSeq: number; eventSeq: number; holder: string }>(
      `SELECT applied_seq AS appliedSeq, event_seq AS eventSeq, holder FROM commit_fences
        WHERE performance_id = ?`,
      { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
    );
    return (
      row && {
        appliedSeq: Number(row.appliedSeq),
        eventSeq: Number(row.eventSeq),
        holder: String(row.holder),
      }
    );
  }

  /**
   * Locks the fence row in `transaction` (the statement that locks it also marks this connection as
   * its holder) and reads it; creates the row of a performance that has none. Undefined if the
   * performance does not exist.
   */
  async lock(performanceId: number, transaction: Transaction): Promise<Fence | undefined> {
    const mark = () =>
      this.sequelize.query(
        'UPDATE commit_fences SET holder_conn = CONNECTION_ID(), held_at = NOW(3) WHERE performance_id = ?',
        { type: QueryTypes.UPDATE, replacements: [performanceId], transaction },
      );
    await mark();
    const fence = await this.readRow(performanceId, transaction);
    if (fence) return fence;
    const [perf] = await this.sequelize.query('SELECT id FROM performances WHERE id = ?', {
      type: QueryTypes.SELECT,
      replacements: [performanceId],
      transaction,
    });
    if (!perf) return undefined;
    await this.sequelize.query('INSERT IGNORE INTO commit_fences (performance_id) VALUES (?)', {
      type: QueryTypes.INSERT,
      replacements: [performanceId],
      transaction,
    });
    await mark();
    return this.readRow(performanceId, transaction);
  }

  /** The fence as last committed, without a lock (0 and no holder for a performance without one). */
  async read(performanceId: number): Promise<Fence> {
    return (await this.readRow(performanceId)) ?? { appliedSeq: 0, eventSeq: 0, holder: '' };
  }

  /** Makes `holder` the performance's one writer, in the transaction that locked the fence. */
  async setHolder(performanceId: number, holder: string, transaction: Transaction): Promise<void> {
    await this.sequelize.query('UPDATE commit_fences SET holder = ? WHERE performance_id = ?', {
      type: QueryTypes.UPDATE,
      replacements: [holder, performanceId],
      transaction,
    });
  }

  /** Moves the fence (and the seat-event sequence) in the batch's transaction. */
  async advance(
    performanceId: number,
    o: { appliedSeq: number; eventSeq: number },
    transaction: Transaction,
  ): Promise<void> {
    await this.sequelize.query(
      'UPDATE commit_fences SET event_seq = ?, applied_seq = ? WHERE performance_id = ?',
      { type: QueryTypes.UPDATE, replacements: [o.eventSeq, o.appliedSeq, performanceId], transaction },
    );
  }

  /** Raises the fence over sequences Redis handed out and lost (a queue restore). */
  async raise(performanceId: number, appliedSeq: number, transaction: Transaction): Promise<void> {
    await this.sequelize.query(
      'UPDATE commit_fences SET applied_seq = GREATEST(applied_seq, ?) WHERE performance_id = ?',
      { type: QueryTypes.UPDATE, replacements: [appliedSeq, performanceId], transaction },
    );
  }

  /** The connection id of `transaction` (so that a takeover never ends its own). */
  async connectionId(transaction: Transaction): Promise<number> {
    const [row] = await this.sequelize.query<{ id: number }>('SELECT CONNECTION_ID() AS id', {
      type: QueryTypes.SELECT,
      transaction,
    });
    return Number(row?.id ?? 0);
  }

  /**
   * Who holds the fence row while this process waits for it: the holder's mark is uncommitted, so it
   * is read READ UNCOMMITTED (in a transaction of its own: the level applies to that one only).
   */
  async holderOf(performanceId: number): Promise<FenceHolder | undefined> {
    const rows = await this.sequelize.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.READ_UNCOMMITTED },
      (transaction) =>
        this.sequelize.query<{ conn: number | null; heldMs: number | null }>(
          `SELECT holder_conn AS conn, TIMESTAMPDIFF(MICROSECOND, held_at, NOW(3)) DIV 1000 AS heldMs
             FROM commit_fences WHERE performance_id = ?`,
          { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
        ),
    );
    const row = rows[0];
    if (!row || row.conn === null || row.heldMs === null) return undefined;
    return { conn: Number(row.conn), heldMs: Number(row.heldMs) };
  }

  /**
   * Ends a stale holder's connection: its transaction rolls back and its locks go, and the process,
   * if it ever wakes, finds its connection gone (nothing it does after can commit).
   */
  async kill(conn: number): Promise<void> {
    await this.sequelize.query('KILL CONNECTION ?', { type: QueryTypes.RAW, replacements: [conn] });
  }
}
