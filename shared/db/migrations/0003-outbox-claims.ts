import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// Who is doing an outbox entry's after-commit work, and since when: a worker takes over an entry
// only when its claim is older than a worker lock (its worker died), so the work is done once.
export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query(
    `ALTER TABLE commit_outbox ADD COLUMN claimed_by VARCHAR(64) NOT NULL DEFAULT '',
       ADD COLUMN claimed_at DATETIME(3) NOT NULL DEFAULT '1970-01-01 00:00:01'`,
  );
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query('ALTER TABLE commit_outbox DROP COLUMN claimed_by, DROP COLUMN claimed_at');
};
