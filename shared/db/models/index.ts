import {
  DataTypes,
  Model,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';

export type Role = 'USER' | 'ADMIN';
import type { SeatStatus } from '../../domain/seats.js';
export type { SeatStatus };
export type HoldStatus = 'held' | 'confirmed' | 'released' | 'expired';
export type RequestKind = 'hold' | 'confirm' | 'release';
export type RequestStatus = 'queued' | 'succeeded' | 'rejected';
export type PaymentStatus = 'authorized' | 'captured' | 'voided';

export class Member extends Model<InferAttributes<Member>, InferCreationAttributes<Member>> {
  declare id: CreationOptional<number>;
  declare email: string;
  declare passwordHash: string;
  declare role: Role;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class Performance extends Model<InferAttributes<Performance>, InferCreationAttributes<Performance>> {
  declare id: CreationOptional<number>;
  declare name: string;
  declare place: string;
  declare showtime: Date;
  declare admissionCapacity: number | null;
  declare salesOpenAt: CreationOptional<Date | null>;
  declare admissionPaused: CreationOptional<boolean>;
  declare holdsPaused: CreationOptional<boolean>;
  declare queueMode: CreationOptional<'fifo' | 'shuffle-at-open'>;
  declare admissionsPerMinute: CreationOptional<number | null>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class SeatGrade extends Model<InferAttributes<SeatGrade>, InferCreationAttributes<SeatGrade>> {
  declare id: CreationOptional<number>;
  declare performanceId: number;
  declare name: string;
  declare price: number;
}

export class Zone extends Model<InferAttributes<Zone>, InferCreationAttributes<Zone>> {
  declare id: CreationOptional<number>;
  declare performanceId: number;
  declare name: string;
}

export class Seat extends Model<InferAttributes<Seat>, InferCreationAttributes<Seat>> {
  declare id: CreationOptional<number>;
  declare performanceId: number;
  declare zoneId: number;
  declare gradeId: number;
  declare code: string;
  declare row: CreationOptional<string | null>;
  declare number: CreationOptional<number | null>;
  declare status: CreationOptional<SeatStatus>;
  declare holdId: CreationOptional<number | null>;
}

export class HoldRequest extends Model<InferAttributes<HoldRequest>, InferCreationAttributes<HoldRequest>> {
  declare id: CreationOptional<number>;
  declare performanceId: number;
  declare memberId: number;
  declare kind: RequestKind;
  declare idempotencyKey: string | null;
  declare payload: string;
  declare status: CreationOptional<RequestStatus>;
  declare reason: CreationOptional<string | null>;
  declare holdId: CreationOptional<number | null>;
  declare queueSeq: CreationOptional<number | null>;
  declare createdAt: CreationOptional<Date>;
  declare processedAt: CreationOptional<Date | null>;
}

export class Hold extends Model<InferAttributes<Hold>, InferCreationAttributes<Hold>> {
  declare id: CreationOptional<number>;
  declare performanceId: number;
  declare memberId: number;
  declare requestId: number;
  declare status: HoldStatus;
  declare expiresAt: Date;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class HoldSeat extends Model<InferAttributes<HoldSeat>, InferCreationAttributes<HoldSeat>> {
  declare holdId: number;
  declare seatId: number;
  declare liveSeatId: number | null;
}

export class Ticket extends Model<InferAttributes<Ticket>, InferCreationAttributes<Ticket>> {
  declare id: CreationOptional<number>;
  declare serial: string;
  declare holdId: number;
  declare memberId: number;
  declare performanceId: number;
  declare seatId: number;
  declare price: number;
  declare createdAt: CreationOptional<Date>;
}

export class Payment extends Model<InferAttributes<Payment>, InferCreationAttributes<Payment>> {
  declare id: CreationOptional<number>;
  declare authorizationId: string;
  declare holdId: number;
  declare memberId: number;
  declare amount: number;
  declare method: string;
  declare status: PaymentStatus;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export class SeatEvent extends Model<InferAttributes<SeatEvent>, InferCreationAttributes<SeatEvent>> {
  declare performanceId: number;
  declare seq: number;
  declare seatId: number;
  declare status: SeatStatus;
  declare createdAt: CreationOptional<Date>;
}

/**
 * A performance's one-writer fence (the commit path's own table, no foreign key into it): the last
 * queue sequence applied and the last seat-event sequence. Models read it; only batches write it.
 */
export class CommitFence extends Model<InferAttributes<CommitFence>, InferCreationAttributes<CommitFence>> {
  declare performanceId: number;
  declare appliedSeq: CreationOptional<number>;
  declare eventSeq: CreationOptional<number>;
}

// Fresh objects per attribute: Sequelize writes the column name into the definition it is given.
const id = () => ({ type: DataTypes.BIGINT.UNSIGNED, autoIncrement: true, primaryKey: true });
const ref = () => ({ type: DataTypes.BIGINT.UNSIGNED, allowNull: false });
const createdAt = () => ({ type: DataTypes.DATE(3) });
const updatedAt = () => ({ type: DataTypes.DATE(3) });

// BIGINT columns come back from mysql2 as numbers below 2^53 thanks to supportBigNumbers off (default).
export function initModels(sequelize: Sequelize): void {
  Member.init(
    {
      id: id(),
      email: { type: DataTypes.STRING(254), allowNull: false },
      passwordHash: { type: DataTypes.STRING(255), allowNull: false },
      role: { type: DataTypes.ENUM('USER', 'ADMIN'), allowNull: false, defaultValue: 'USER' },
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    { sequelize, tableName: 'members' },
  );
  Performance.init(
    {
      id: id(),
      name: { type: DataTypes.STRING(200), allowNull: false },
      place: { type: DataTypes.STRING(200), allowNull: false },
      showtime: { type: DataTypes.DATE(3), allowNull: false },
      admissionCapacity: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
      salesOpenAt: { type: DataTypes.DATE(3), allowNull: true },
      admissionPaused: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      holdsPaused: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
      queueMode: { type: DataTypes.ENUM('fifo', 'shuffle-at-open'), allowNull: false, defaultValue: 'fifo' },
      admissionsPerMinute: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    { sequelize, tableName: 'performances' },
  );
  SeatGrade.init(
    {
      id: id(),
      performanceId: ref(),
      name: { type: DataTypes.STRING(100), allowNull: false },
      price: { type: DataTypes.DECIMAL(12, 2), allowNull: false },
    },
    { sequelize, tableName: 'seat_grades', timestamps: false },
  );
  Zone.init(
    { id: id(), performanceId: ref(), name: { type: DataTypes.STRING(100), allowNull: false } },
    { sequelize, tableName: 'zones', timestamps: false },
  );
  Seat.init(
    {
      id: id(),
      performanceId: ref(),
      zoneId: ref(),
      gradeId: ref(),
      code: { type: DataTypes.STRING(50), allowNull: false },
      row: { type: DataTypes.STRING(20), allowNull: true },
      number: { type: DataTypes.INTEGER.UNSIGNED, allowNull: true },
      status: {
        type: DataTypes.ENUM('available', 'held', 'sold'),
        allowNull: false,
        defaultValue: 'available',
      },
      holdId: { type: DataTypes.BIGINT.UNSIGNED, allowNull: true },
    },
    { sequelize, tableName: 'seats', timestamps: false },
  );
  HoldRequest.init(
    {
      id: id(),
      performanceId: ref(),
      memberId: ref(),
      kind: { type: DataTypes.ENUM('hold', 'confirm', 'release'), allowNull: false },
      idempotencyKey: { type: DataTypes.STRING(128), allowNull: true },
      payload: { type: DataTypes.TEXT, allowNull: false },
      status: {
        type: DataTypes.ENUM('queued', 'succeeded', 'rejected'),
        allowNull: false,
        defaultValue: 'queued',
      },
      reason: { type: DataTypes.STRING(32), allowNull: true },
      holdId: { type: DataTypes.BIGINT.UNSIGNED, allowNull: true },
      queueSeq: { type: DataTypes.BIGINT.UNSIGNED, allowNull: true },
      createdAt: createdAt(),
      processedAt: { type: DataTypes.DATE(3), allowNull: true },
    },
    { sequelize, tableName: 'hold_requests', updatedAt: false },
  );
  Hold.init(
    {
      id: id(),
      performanceId: ref(),
      memberId: ref(),
      requestId: ref(),
      status: { type: DataTypes.ENUM('held', 'confirmed', 'released', 'expired'), allowNull: false },
      expiresAt: { type: DataTypes.DATE(3), allowNull: false },
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    { sequelize, tableName: 'holds' },
  );
  HoldSeat.init(
    {
      holdId: { ...ref(), primaryKey: true },
      seatId: { ...ref(), primaryKey: true },
      liveSeatId: { type: DataTypes.BIGINT.UNSIGNED, allowNull: true },
    },
    { sequelize, tableName: 'hold_seats', timestamps: false },
  );
  Ticket.init(
    {
      id: id(),
      serial: { type: DataTypes.CHAR(20), allowNull: false },
      holdId: ref(),
      memberId: ref(),
      performanceId: ref(),
      seatId: ref(),
      price: { type: DataTypes.DECIMAL(12, 2), allowNull: false },
      createdAt: createdAt(),
    },
    { sequelize, tableName: 'tickets', updatedAt: false },
  );
  Payment.init(
    {
      id: id(),
      authorizationId: { type: DataTypes.STRING(64), allowNull: false },
      holdId: ref(),
      memberId: ref(),
      amount: { type: DataTypes.DECIMAL(12, 2), allowNull: false },
      method: { type: DataTypes.STRING(32), allowNull: false },
      status: { type: DataTypes.ENUM('authorized', 'captured', 'voided'), allowNull: false },
      createdAt: createdAt(),
      updatedAt: updatedAt(),
    },
    { sequelize, tableName: 'payments' },
  );
  SeatEvent.init(
    {
      performanceId: { ...ref(), primaryKey: true },
      seq: { type: DataTypes.BIGINT.UNSIGNED, allowNull: false, primaryKey: true },
      seatId: ref(),
      status: { type: DataTypes.ENUM('available', 'held', 'sold'), allowNull: false },
      createdAt: createdAt(),
    },
    { sequelize, tableName: 'seat_events', updatedAt: false },
  );
  CommitFence.init(
    {
      performanceId: { ...ref(), primaryKey: true },
      appliedSeq: { type: DataTypes.BIGINT.UNSIGNED, allowNull: false, defaultValue: 0 },
      eventSeq: { type: DataTypes.BIGINT.UNSIGNED, allowNull: false, defaultValue: 0 },
    },
    { sequelize, tableName: 'commit_fences', timestamps: false },
  );
}
