import { QueryTypes, type Sequelize, type Transaction } from 'sequelize';
import type { Connection, ResultSetHeader } from 'mysql2';

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

/** An integer as SQL (the log's numbers are integers: anything else is refused, not written). */
function int(v: number | string): string {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer in the admission log: ${String(v)}`);
  return String(n);
}

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

  async setOutsideRandomness(performanceId: number, value: string | null): Promise<void> {
    await this.sequelize.query('UPDATE fairness_draws SET outside_randomness = ? WHERE performance_id = ?', {
      replacements: [value, performanceId],
    });
  }

  /**
   * One write of the admission log: `fn` runs in a transaction on a connection of the pool, its
   * statements sent straight to the driver. Sequelize's work per transaction and statement (its
   * transaction object, option handling, copying, lower-casing and scanning a long statement) cost
   * the log's writer more than the statements themselves, at every write, many times a second.
   */
  async writeLog<T>(fn: (log: LogWrite) => Promise<T>): Promise<T> {
    const manager = this.sequelize.connectionManager;
    const connection = (await manager.getConnection({ type: 'write' })) as Connection;
    const exec = <R>(sql: string) =>
      new Promise<R>((resolve, reject) =>
        connection.query(sql, (err, result) => (err ? reject(err) : resolve(result as R))),
      );
    let out: T;
    try {
      await exec('START TRANSACTION');
      out = await fn(new LogWrite(exec, (v) => this.sequelize.escape(v)));
      await exec('COMMIT');
    } catch (err) {
      // A connection whose transaction cannot be rolled back is in an unknown state: not reused.
      await exec('ROLLBACK').then(
        () => manager.releaseConnection(connection),
        () => manager.destroyConnection(connection),
      );
      throw err;
    }
    manager.releaseConnection(connection);
    return out;
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

/** The log's head: its length, last hash and the room's last admission in it (generation, sequence). */
export type StoredHead = { length: number; head: string; lastGen: string | null; lastRseq: number };

/** The statements of one write of the admission log (`FairnessRepository.writeLog`). */
export class LogWrite {
  constructor(
    private readonly exec: <R>(sql: string) => Promise<R>,
    private readonly escape: (v: string) => string,
  ) {}

  /** The chain's head, locked until the write ends (one log writer at a time). */
  async lockedHead(performanceId: number): Promise<StoredHead | undefined> {
    const rows = await this.exec<RawDraw[]>(
      `SELECT log_length, log_head, last_gen, last_rseq FROM fairness_draws
        WHERE performance_id = ${int(performanceId)} FOR UPDATE`,
    );
    const r = rows[0];
    if (!r) return undefined;
    return {
      length: Number(r.log_length),
      head: r.log_head,
      lastGen: r.last_gen == null ? null : String(r.last_gen),
      lastRseq: r.last_rseq == null ? 0 : Number(r.last_rseq),
    };
  }

  /**
   * Which of the room generation's admissions `from`..`to` (sequence numbers) the log holds already.
   * Asked under the head's lock for admissions of a generation older than the head's: a writer that
   * read them before a Redis loss and wrote them only after the new generation's entries.
   */
  async written(performanceId: number, gen: string, from: number, to: number): Promise<Set<number>> {
    const rows = await this.exec<{ rseq: number }[]>(
      `SELECT rseq FROM admission_log WHERE performance_id = ${int(performanceId)}
          AND room_gen = ${int(gen)} AND rseq BETWEEN ${int(from)} AND ${int(to)}`,
    );
    return new Set(rows.map((r) => Number(r.rseq)));
  }

  /**
   * Appends chained entries and moves the chain's head to them. With `after`, only if the head is
   * still that one (a writer's memory of its own last write, which spares it the locking read):
   * false, and nothing written, when another writer moved it since.
   */
  async append(
    performanceId: number,
    rows: readonly LogRow[],
    head: StoredHead & { lastGen: string },
    after?: StoredHead,
  ): Promise<boolean> {
    // The head first: its row lock orders writers as `lockedHead` does, and checks `after`.
    const moved = await this.exec<ResultSetHeader>(
      `UPDATE fairness_draws SET log_length = ${int(head.length)}, log_head = ${this.text(head.head)},
          last_gen = ${int(head.lastGen)}, last_rseq = ${int(head.lastRseq)}
        WHERE performance_id = ${int(performanceId)}` +
        (after ? ` AND log_length = ${int(after.length)} AND log_head = ${this.text(after.head)}` : ''),
    );
    if (moved.affectedRows !== 1) {
      if (after) return false;
      throw new Error(`no draw row for performance ${performanceId}`);
    }
    // Built by hand, once per admission: hex digests and plain words need no escaping (checked,
    // else escaped), numbers are checked to be integers, and a run of admissions shares its time.
    let atMs = NaN;
    let at = '';
    const values = new Array<string>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (r.at.getTime() !== atMs) {
        atMs = r.at.getTime();
        at = `'${r.at.toISOString().replace('T', ' ').replace('Z', '')}'`;
      }
      values[i] =
        `(${performanceId},${int(r.n)},${int(r.roomGen)},${int(r.rseq)},${int(r.ticket)},${int(r.memberId)},` +
        `${this.text(r.memberHash)},${at},${this.text(r.trigger)},${int(r.capacity)},${int(r.occupancy)},` +
        `${int(r.perMinute)},${this.text(r.prev)},${this.text(r.hash)})`;
    }
    await this.exec(
      `INSERT INTO admission_log (performance_id, n, room_gen, rseq, ticket, member_id, member_hash,
         admitted_at, \`trigger\`, capacity, occupancy, per_minute, prev, hash) VALUES ${values.join(',')}`,
    );
    return true;
  }

  private text(v: string): string {
    // Nothing to escape in a string without quote, backslash or NUL (hex digests, trigger words;
    // the connection is UTF-8, whose multi-byte sequences contain none): quoted as it is. Found far
    // faster than a pattern is matched, four times per entry.
    return v.includes("'") || v.includes('\\') || v.includes('\0') ? this.escape(v) : `'${v}'`;
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
