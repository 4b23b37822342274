import { QueryTypes, type Sequelize } from 'sequelize';

/** The accept path's payment rows, in plain SQL: what a hold costs, an authorisation, its void. */
export class PaymentRepository {
  constructor(private readonly sequelize: Sequelize) {}

  /** The sum of the hold's seat prices. */
  async holdAmount(holdId: number): Promise<number> {
    const [row] = await this.sequelize.query<{ amount: number | null }>(
      `SELECT SUM(g.price) AS amount FROM hold_seats hs JOIN seats s ON s.id = hs.seat_id
         JOIN seat_grades g ON g.id = s.grade_id WHERE hs.hold_id = ?`,
      { type: QueryTypes.SELECT, replacements: [holdId] },
    );
    return Number(row?.amount ?? 0);
  }

  async insertAuthorized(p: {
    authorizationId: string;
    holdId: number;
    memberId: number;
    amount: number;
    method: string;
  }): Promise<void> {
    await this.sequelize.query(
      `INSERT INTO payments (authorization_id, hold_id, member_id, amount, method, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, 'authorized', NOW(3), NOW(3))`,
      {
        type: QueryTypes.INSERT,
        replacements: [p.authorizationId, p.holdId, p.memberId, p.amount, p.method],
      },
    );
  }

  /** Voids an authorisation that is still only authorised (never one a worker captured). */
  async markVoided(authorizationId: string): Promise<void> {
    await this.sequelize.query(
      `UPDATE payments SET status = 'voided', updated_at = NOW(3)
        WHERE authorization_id = ? AND status = 'authorized'`,
      { type: QueryTypes.UPDATE, replacements: [authorizationId] },
    );
  }
}
