import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// Fairness: how the line is ordered (queue mode, outflow cap), the draw of a shuffled pre-queue
// (secret seed, its commitment, the frozen roster) and the admission log, a hash chain in the order
// the room admitted. MySQL is authoritative for all of it: Redis only carries the live line.
const statements = [
  `ALTER TABLE performances
     ADD COLUMN queue_mode ENUM('fifo', 'shuffle-at-open') NOT NULL DEFAULT 'fifo' AFTER holds_paused,
     ADD COLUMN admissions_per_minute INT UNSIGNED NULL AFTER queue_mode`,
  `CREATE TABLE fairness_draws (
     performance_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
     seed CHAR(64) NOT NULL,
     commitment CHAR(64) NOT NULL,
     salt CHAR(64) NOT NULL,
     outside_randomness VARCHAR(200) NULL,
     room_gen BIGINT NULL,
     ticket_base INT UNSIGNED NULL,
     roster_size INT UNSIGNED NULL,
     roster_root CHAR(64) NULL,
     revealed_at DATETIME(3) NULL,
     log_length INT UNSIGNED NOT NULL DEFAULT 0,
     log_head CHAR(64) NOT NULL DEFAULT '0000000000000000000000000000000000000000000000000000000000000000',
     last_gen BIGINT NULL,
     last_rseq INT UNSIGNED NULL,
     created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
     CONSTRAINT fk_fairness_draws_performance FOREIGN KEY (performance_id) REFERENCES performances (id)
   ) ENGINE=InnoDB`,
  `CREATE TABLE fairness_roster (
     performance_id BIGINT UNSIGNED NOT NULL,
     arrival INT UNSIGNED NOT NULL,
     member_id BIGINT UNSIGNED NOT NULL,
     member_hash CHAR(64) NOT NULL,
     place INT UNSIGNED NOT NULL,
     PRIMARY KEY (performance_id, arrival),
     UNIQUE KEY ux_fairness_roster_member (performance_id, member_id)
   ) ENGINE=InnoDB`,
  `CREATE TABLE admission_log (
     performance_id BIGINT UNSIGNED NOT NULL,
     n INT UNSIGNED NOT NULL,
     room_gen BIGINT NOT NULL,
     rseq INT UNSIGNED NOT NULL,
     ticket INT UNSIGNED NOT NULL,
     member_id BIGINT UNSIGNED NOT NULL,
     member_hash CHAR(64) NOT NULL,
     admitted_at DATETIME(3) NOT NULL,
     \`trigger\` VARCHAR(16) NOT NULL,
     capacity INT UNSIGNED NOT NULL,
     occupancy INT UNSIGNED NOT NULL,
     per_minute INT UNSIGNED NOT NULL,
     prev CHAR(64) NOT NULL,
     hash CHAR(64) NOT NULL,
     PRIMARY KEY (performance_id, n),
     UNIQUE KEY ux_admission_log_room (performance_id, room_gen, rseq),
     KEY ix_admission_log_member (performance_id, member_id)
   ) ENGINE=InnoDB`,
];

export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const sql of statements) await sequelize.query(sql);
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query('DROP TABLE admission_log');
  await sequelize.query('DROP TABLE fairness_roster');
  await sequelize.query('DROP TABLE fairness_draws');
  await sequelize.query('ALTER TABLE performances DROP COLUMN queue_mode, DROP COLUMN admissions_per_minute');
};
