import type { MigrationFn } from 'umzug';
import type { Sequelize } from 'sequelize';

// Plain DDL: the keys and unique constraints here are what make a double booking impossible.
const statements = [
  `CREATE TABLE members (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(254) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role ENUM('USER','ADMIN') NOT NULL DEFAULT 'USER',
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    UNIQUE KEY uq_members_email (email)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE performances (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(200) NOT NULL,
    place VARCHAR(200) NOT NULL,
    showtime DATETIME(3) NOT NULL,
    admission_capacity INT UNSIGNED NULL,
    event_seq BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE seat_grades (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    performance_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(100) NOT NULL,
    price DECIMAL(12,2) NOT NULL,
    UNIQUE KEY uq_grades_name (performance_id, name),
    CONSTRAINT fk_grades_performance FOREIGN KEY (performance_id) REFERENCES performances (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE zones (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    performance_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(100) NOT NULL,
    UNIQUE KEY uq_zones_name (performance_id, name),
    CONSTRAINT fk_zones_performance FOREIGN KEY (performance_id) REFERENCES performances (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE seats (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    performance_id BIGINT UNSIGNED NOT NULL,
    zone_id BIGINT UNSIGNED NOT NULL,
    grade_id BIGINT UNSIGNED NOT NULL,
    code VARCHAR(50) NOT NULL,
    status ENUM('available','held','sold') NOT NULL DEFAULT 'available',
    hold_id BIGINT UNSIGNED NULL,
    UNIQUE KEY uq_seats_code (performance_id, code),
    KEY ix_seats_status (performance_id, status),
    CONSTRAINT fk_seats_performance FOREIGN KEY (performance_id) REFERENCES performances (id),
    CONSTRAINT fk_seats_zone FOREIGN KEY (zone_id) REFERENCES zones (id),
    CONSTRAINT fk_seats_grade FOREIGN KEY (grade_id) REFERENCES seat_grades (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE hold_requests (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    performance_id BIGINT UNSIGNED NOT NULL,
    member_id BIGINT UNSIGNED NOT NULL,
    kind ENUM('hold','confirm','release') NOT NULL,
    idempotency_key VARCHAR(128) NULL,
    payload TEXT NOT NULL,
    status ENUM('queued','succeeded','rejected') NOT NULL DEFAULT 'queued',
    reason VARCHAR(32) NULL,
    hold_id BIGINT UNSIGNED NULL,
    queue_seq BIGINT UNSIGNED NULL,
    created_at DATETIME(3) NOT NULL,
    processed_at DATETIME(3) NULL,
    UNIQUE KEY uq_requests_idempotency (member_id, idempotency_key),
    KEY ix_requests_status (status, created_at),
    CONSTRAINT fk_requests_performance FOREIGN KEY (performance_id) REFERENCES performances (id),
    CONSTRAINT fk_requests_member FOREIGN KEY (member_id) REFERENCES members (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE holds (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    performance_id BIGINT UNSIGNED NOT NULL,
    member_id BIGINT UNSIGNED NOT NULL,
    request_id BIGINT UNSIGNED NOT NULL,
    status ENUM('held','confirmed','released','expired') NOT NULL,
    expires_at DATETIME(3) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    UNIQUE KEY uq_holds_request (request_id),
    KEY ix_holds_member (member_id, performance_id, status),
    KEY ix_holds_expiry (status, expires_at),
    CONSTRAINT fk_holds_performance FOREIGN KEY (performance_id) REFERENCES performances (id),
    CONSTRAINT fk_holds_member FOREIGN KEY (member_id) REFERENCES members (id),
    CONSTRAINT fk_holds_request FOREIGN KEY (request_id) REFERENCES hold_requests (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  // live_seat_id equals seat_id while the hold is live and NULL after: its unique key means
  // no seat can ever be in two live holds, whatever the application does.
  `CREATE TABLE hold_seats (
    hold_id BIGINT UNSIGNED NOT NULL,
    seat_id BIGINT UNSIGNED NOT NULL,
    live_seat_id BIGINT UNSIGNED NULL,
    PRIMARY KEY (hold_id, seat_id),
    UNIQUE KEY uq_hold_seats_live (live_seat_id),
    KEY ix_hold_seats_seat (seat_id),
    CONSTRAINT fk_hold_seats_hold FOREIGN KEY (hold_id) REFERENCES holds (id),
    CONSTRAINT fk_hold_seats_seat FOREIGN KEY (seat_id) REFERENCES seats (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE tickets (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    serial CHAR(20) NOT NULL,
    hold_id BIGINT UNSIGNED NOT NULL,
    member_id BIGINT UNSIGNED NOT NULL,
    performance_id BIGINT UNSIGNED NOT NULL,
    seat_id BIGINT UNSIGNED NOT NULL,
    price DECIMAL(12,2) NOT NULL,
    created_at DATETIME(3) NOT NULL,
    UNIQUE KEY uq_tickets_serial (serial),
    UNIQUE KEY uq_tickets_seat (seat_id),
    KEY ix_tickets_member (member_id),
    CONSTRAINT fk_tickets_hold FOREIGN KEY (hold_id) REFERENCES holds (id),
    CONSTRAINT fk_tickets_seat FOREIGN KEY (seat_id) REFERENCES seats (id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE payments (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    authorization_id VARCHAR(64) NOT NULL,
    hold_id BIGINT UNSIGNED NOT NULL,
    member_id BIGINT UNSIGNED NOT NULL,
    amount DECIMAL(12,2) NOT NULL,
    method VARCHAR(32) NOT NULL,
    status ENUM('authorized','captured','voided') NOT NULL,
    created_at DATETIME(3) NOT NULL,
    updated_at DATETIME(3) NOT NULL,
    UNIQUE KEY uq_payments_authorization (authorization_id),
    KEY ix_payments_hold (hold_id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
  `CREATE TABLE seat_events (
    performance_id BIGINT UNSIGNED NOT NULL,
    seq BIGINT UNSIGNED NOT NULL,
    seat_id BIGINT UNSIGNED NOT NULL,
    status ENUM('available','held','sold') NOT NULL,
    created_at DATETIME(3) NOT NULL,
    PRIMARY KEY (performance_id, seq)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
];

export const up: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const sql of statements) await sequelize.query(sql);
};

export const down: MigrationFn<Sequelize> = async ({ context: sequelize }) => {
  for (const t of [
    'seat_events',
    'payments',
    'tickets',
    'hold_seats',
    'holds',
    'hold_requests',
    'seats',
    'zones',
    'seat_grades',
    'performances',
    'members',
  ])
    await sequelize.query(`DROP TABLE IF EXISTS ${t}`);
};
