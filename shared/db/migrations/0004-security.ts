import { randomBytes } from 'node:crypto';
import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// - Idempotency keys compare exactly: `Key-A` and `key-a` are two keys (the column was
//   case-insensitive, so they were one).
// - The orphan-authorisation sweeper finds authorised payments by age.
// - The deployment's identity, created with the database: its Redis keys and pub/sub channels are
//   namespaced by it, so a new database never meets an old deployment's Redis state.
export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query(
    `ALTER TABLE hold_requests
       MODIFY idempotency_key VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NULL`,
  );
  await sequelize.query('ALTER TABLE payments ADD KEY ix_payments_status (status, created_at)');
  await sequelize.query(
    `CREATE TABLE deployment (
       singleton TINYINT UNSIGNED NOT NULL DEFAULT 1 PRIMARY KEY,
       id CHAR(16) CHARACTER SET ascii NOT NULL,
       created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
     ) ENGINE=InnoDB`,
  );
  await sequelize.query('INSERT INTO deployment (singleton, id) VALUES (1, ?)', {
    replacements: [randomBytes(8).toString('hex')],
  });
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query('DROP TABLE deployment');
  await sequelize.query('ALTER TABLE payments DROP KEY ix_payments_status');
  await sequelize.query(
    'ALTER TABLE hold_requests MODIFY idempotency_key VARCHAR(128) CHARACTER SET utf8mb4 NULL',
  );
};
