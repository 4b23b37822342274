import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';

export type DrawRow = {
  performanceId: number;
  queueMode: 'fifo' | 'shuffle-at-open';
  salesOpenAt: Date | null;
  seed: string;
  commitment: string;
  salt: string;
  outsideRandomness: string | null;
  roomGen: string | null;
  ticketBase: number | null;
  rosterSize: number | null;
  rosterRoot: string | null;
  revealedAt: Date | null;
  logLength: number;
  logHead: string;
  lastGen: string | null;
  lastRseq: number | null;
};

export type LogRow = {
  n: number;
  roomGen: string;
  rseq: number;
  ticket: number;
  memberId: number;
  memberHash: string;
  at: Date;
  trigger: string;
  capacity: number;
  occupancy: number;
  perMinute: number;
  prev: string;
  hash: string;
};

type RawDraw = {
  performance_id: number;
  queue_mode: 'fifo' | 'shuffle-at-open';
  sales_open_at: Date | null;
  seed: string;
  commitment: string;
  salt: string;
  outside_randomness: string | null;
  room_gen: string | number | null;
  ticket_base: number | null;
  roster_size: number | null;
  roster_root: string | null;
  revealed_at: Date | null;
  log_length: number;
  log_head: string;
  last_gen: string | number | null;
  last_rseq: number | null;
};

const toDraw = (r: RawDraw): DrawRow => ({
  performanceId: Number(r.performance_id),
  queueMode: r.queue_mode,
  salesOpenAt: r.sales_open_at ? new Date(r.sales_open_at) : null,
  seed: r.seed,
  commitment: r.commitment,
  salt: r.salt,
  outsideRandomness: r.outside_randomness,
  roomGen: r.room_gen == null ? null : String(r.room_gen),
  ticketBase: r.ticket_base == null ? null : Number(r.ticket_base),
  rosterSize: r.roster_size == null ? null : Number(r.roster_size),
  rosterRoot: r.roster_root,
  revealedAt: r.revealed_at ? new Date(r.revealed_at) : null,
  logLength: Number(r.log_length),
  logHead: r.log_head,
  lastGen: r.last_gen == null ? null : String(r.last_gen),
  lastRseq: r.last_rseq == null ? null : Number(r.last_rseq),
});

/** Plain rows of the draw, the roster and the admission log (all per performance). */
export class FairnessRepository {
  constructor(readonly sequelize: Sequelize) {}

  /** Creates the draw's secrets once (a second call keeps the first). */
  async ensure(
    performanceId: number,
    secrets: { seed: string; commitment: string; salt: string },
  ): Promise<void> {
    await this.sequelize.query(
      `INSERT IGNORE INTO fairness_draws (performance_id, seed, commitment, salt) VALUES (?, ?, ?, ?)`,
      { replacements: [performanceId, secrets.seed, secrets.commitment, secrets.salt] },
    );
  }

  async draw(performanceId: number, transaction?: Transaction): Promise<DrawRow | undefined> {
    if (transaction) {
      // Lock the draw row only: a locking read joined to `performances` would lock the performance
      // row too, which every accept's foreign key reads (a worker frozen here would stop the sale).
      const [locked] = await this.sequelize.query<{ id: number }>(
        'SELECT performance_id AS id FROM fairness_draws WHERE performance_id = ? FOR UPDATE',
        { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
      );
      if (!locked) return undefined;
    }
    const rows = await this.sequelize.query<RawDraw>(
      `SELECT d.*, p.queue_mode, p.sales_open_at FROM fairness_draws d
         JOIN performances p ON p.id = d.performance_id
        WHERE d.performance_id = ?`,
      { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
    );
    return rows[0] ? toDraw(rows[0]) : undefined;
  }

  /** The chain's head, locked for the caller's transaction (one log writer at a time). */
  async chainHead(
    performanceId: number,
    transaction: Transaction,
  ): Promise<Pick<DrawRow, 'logLength' | 'logHead' | 'lastGen' | 'lastRseq'> | undefined> {
    const rows = await this.sequelize.query<RawDraw>(
      'SELECT log_length, log_head, last_gen, last_rseq FROM fairness_draws WHERE performance_id = ? FOR UPDATE',
      { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      logLength: Number(r.log_length),
      logHead: r.log_head,
      lastGen: r.last_gen == null ? null : String(r.last_gen),
      lastRseq: r.last_rseq == null ? null : Number(r.last_rseq),
    };
  }

  async setOutsideRandomness(performanceId: number, value: string | null): Promise<void> {
    await this.sequelize.query('UPDATE fairness_draws SET outside_randomness = ? WHERE performance_id = ?', {
      replacements: [value, performanceId],
    });
  }

  /** Appends chained entries and moves the chain's head, in the caller's transaction. */
  async append(
    performanceId: number,
    rows: LogRow[],
    head: { length: number; head: string; lastGen: string; lastRseq: number },
    transaction: Transaction,
  ): Promise<void> {
    const values = rows.map(
      (r) =>
        `(${[
          performanceId,
          r.n,
          r.roomGen,
          r.rseq,
          r.ticket,
          r.memberId,
          this.sequelize.escape(r.memberHash),
          this.sequelize.escape(r.at.toISOString().replace('T', ' ').replace('Z', '')),
          this.sequelize.escape(r.trigger),
          r.capacity,
          r.occupancy,
          r.perMinute,
          this.sequelize.escape(r.prev),
          this.sequelize.escape(r.hash),
        ].join(',')})`,
    );
    await this.sequelize.query(
      `INSERT INTO admission_log (performance_id, n, room_gen, rseq, ticket, member_id, member_hash,
         admitted_at, \`trigger\`, capacity, occupancy, per_minute, prev, hash) VALUES ${values.join(',')}`,
      // Typed, so that Sequelize does not scan the long statement to find out what it is.
      { type: QueryTypes.INSERT, transaction },
    );
    await this.sequelize.query(
      `UPDATE fairness_draws SET log_length = ?, log_head = ?, last_gen = ?, last_rseq = ? WHERE performance_id = ?`,
      { replacements: [head.length, head.head, head.lastGen, head.lastRseq, performanceId], transaction },
    );
  }

  async log(performanceId: number, after: number, limit: number): Promise<LogRow[]> {
    const rows = await this.sequelize.query<Record<string, unknown>>(
      `SELECT n, room_gen, rseq, ticket, member_id, member_hash, admitted_at, \`trigger\`, capacity,
              occupancy, per_minute, prev, hash
         FROM admission_log WHERE performance_id = ? AND n > ? ORDER BY n LIMIT ?`,
      { type: QueryTypes.SELECT, replacements: [performanceId, after, limit] },
    );
    return rows.map(toLog);
  }

  async memberEntry(performanceId: number, memberId: number): Promise<LogRow | undefined> {
    const rows = await this.sequelize.query<Record<string, unknown>>(
      `SELECT n, room_gen, rseq, ticket, member_id, member_hash, admitted_at, \`trigger\`, capacity,
              occupancy, per_minute, prev, hash
         FROM admission_log WHERE performance_id = ? AND member_id = ? ORDER BY n DESC LIMIT 1`,
      { type: QueryTypes.SELECT, replacements: [performanceId, memberId] },
    );
    return rows[0] ? toLog(rows[0]) : undefined;
  }

  /** Records the frozen roster with its drawn places and reveals the draw, once. */
  async reveal(
    performanceId: number,
    roster: { memberId: number; memberHash: string; place: number }[],
    draw: { roomGen: string; ticketBase: number; rosterRoot: string },
  ): Promise<void> {
    await this.sequelize.transaction(async (transaction) => {
      const row = await this.draw(performanceId, transaction);
      if (!row || row.revealedAt) return;
      for (let i = 0; i < roster.length; i += 5000) {
        const values = roster
          .slice(i, i + 5000)
          .map((r, j) => `(${performanceId},${i + j + 1},${r.memberId},'${r.memberHash}',${r.place})`);
        await this.sequelize.query(
          `INSERT INTO fairness_roster (performance_id, arrival, member_id, member_hash, place) VALUES ${values.join(',')}`,
          { transaction },
        );
      }
      await this.sequelize.query(
        `UPDATE fairness_draws SET room_gen = ?, ticket_base = ?, roster_size = ?, roster_root = ?,
                revealed_at = NOW(3) WHERE performance_id = ?`,
        {
          replacements: [draw.roomGen, draw.ticketBase, roster.length, draw.rosterRoot, performanceId],
          transaction,
        },
      );
    });
  }

  /** The roster's member hashes in arrival order, from `after` (an arrival number), at most `limit`. */
  async roster(performanceId: number, after: number, limit: number): Promise<string[]> {
    const rows = await this.sequelize.query<{ member_hash: string }>(
      `SELECT member_hash FROM fairness_roster WHERE performance_id = ? AND arrival > ? ORDER BY arrival LIMIT ?`,
      { type: QueryTypes.SELECT, replacements: [performanceId, after, limit] },
    );
    return rows.map((r) => r.member_hash);
  }

  async rosterMember(
    performanceId: number,
    memberId: number,
  ): Promise<{ arrival: number; place: number } | undefined> {
    const rows = await this.sequelize.query<{ arrival: number; place: number }>(
      'SELECT arrival, place FROM fairness_roster WHERE performance_id = ? AND member_id = ?',
      { type: QueryTypes.SELECT, replacements: [performanceId, memberId] },
    );
    return rows[0] ? { arrival: Number(rows[0].arrival), place: Number(rows[0].place) } : undefined;
  }
}

function toLog(r: Record<string, unknown>): LogRow {
  return {
    n: Number(r['n']),
    roomGen: String(r['room_gen']),
    rseq: Number(r['rseq']),
    ticket: Number(r['ticket']),
    memberId: Number(r['member_id']),
    memberHash: String(r['member_hash']),
    at: new Date(r['admitted_at'] as Date),
    trigger: String(r['trigger']),
    capacity: Number(r['capacity']),
    occupancy: Number(r['occupancy']),
    perMinute: Number(r['per_minute']),
    prev: String(r['prev']),
    hash: String(r['hash']),
  };
}
