import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// Stadium layouts: a seat knows its row and number (both optional: single seats need neither), and a
// seat code is unique within its zone (row A of the north stand and row A of the south stand both
// have A-1), compared exactly (binary collation: "a-1" and "A-1" are two seats).
const statements = [
  `ALTER TABLE seats
     ADD COLUMN \`row\` VARCHAR(20) NULL AFTER code,
     ADD COLUMN number INT UNSIGNED NULL AFTER \`row\`,
     MODIFY code VARCHAR(50) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
     ADD UNIQUE KEY uq_seats_zone_code (performance_id, zone_id, code),
     DROP INDEX uq_seats_code`,
];

export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const sql of statements) await sequelize.query(sql);
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  await sequelize.query(
    `ALTER TABLE seats ADD UNIQUE KEY uq_seats_code (performance_id, code), DROP INDEX uq_seats_zone_code,
       MODIFY code VARCHAR(50) NOT NULL, DROP COLUMN number, DROP COLUMN \`row\``,
  );
};
