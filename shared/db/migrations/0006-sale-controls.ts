import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// The operator's levers of a sale (MySQL keeps them; Redis carries a copy the hot paths read), and
// indexes for the admin page's "last minute" counts of commits and sales.
const statements = [
  `ALTER TABLE performances ADD COLUMN sales_open_at DATETIME(3) NULL AFTER admission_capacity,
     ADD COLUMN admission_paused TINYINT(1) NOT NULL DEFAULT 0 AFTER sales_open_at,
     ADD COLUMN holds_paused TINYINT(1) NOT NULL DEFAULT 0 AFTER admission_paused`,
  `CREATE INDEX ix_requests_performance_processed ON hold_requests (performance_id, processed_at)`,
  `CREATE INDEX ix_tickets_performance_created ON tickets (performance_id, created_at)`,
];

export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const sql of statements) await sequelize.query(sql);
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query('DROP INDEX ix_tickets_performance_created ON tickets');
  await sequelize.query('DROP INDEX ix_requests_performance_processed ON hold_requests');
  await sequelize.query(
    'ALTER TABLE performances DROP COLUMN sales_open_at, DROP COLUMN admission_paused, DROP COLUMN holds_paused',
  );
};
