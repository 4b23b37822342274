import { QueryTypes, Transaction, UniqueConstraintError } from 'sequelize';
import { z } from 'zod';
import type { Config } from '../config.js';
import { NotFoundError, ValidationError, type FieldError } from '../errors.js';
import { Performance, Seat, SeatGrade, Zone } from '../db/models/index.js';
import type { PerformanceQueues } from '../queues/performance-queues.js';

const name = z.string().trim().min(1).max(100);
export const createPerformanceSchema = z.object({
  name: z.string().trim().min(1).max(200),
  place: z.string().trim().min(1).max(200),
  // MySQL's DATETIME holds years 1000 to 9999 in UTC: 9999-12-31T23:00:00-05:00 is in year 10000.
  showtime: z.iso.datetime({ offset: true }).refine((v) => {
    const year = new Date(v).getUTCFullYear();
    return year >= 1000 && year <= 9999;
  }, 'must fall between the years 1000 and 9999 in UTC'),
  salesOpenAt: z.iso.datetime({ offset: true }).optional(),
  admissionCapacity: z.number().int().min(1).max(1_000_000).optional(),
  grades: z
    .array(z.object({ name, price: z.number().min(0).max(9_999_999_999) }))
    .min(1)
    .max(50),
  zones: z
    .array(
      z.object({
        name,
        seats: z
          .array(z.object({ code: z.string().trim().min(1).max(50), grade: name }))
          .min(1)
          .max(20_000),
      }),
    )
    .min(1)
    .max(200),
});
export type CreatePerformance = z.infer<typeof createPerformanceSchema>;

const LIST_TTL_MS = 1000;

type ListItem = {
  id: number;
  name: string;
  place: string;
  showtime: string;
  seatCount: number;
  availableCount: number;
};

export type PerformanceInfo = { id: number; capacity: number; seatIds: ReadonlySet<number> };

// Names and codes are unique the way the database compares them: case-insensitively.
const fold = (s: string) => s.toLowerCase();

/** Cross-field rules the schema cannot express: unique names and codes, grades that exist. */
function crossCheck(body: CreatePerformance): FieldError[] {
  const errors: FieldError[] = [];
  const grades = new Set<string>();
  body.grades.forEach((g, i) => {
    if (grades.has(fold(g.name)))
      errors.push({ path: `grades.${i}.name`, message: `grade "${g.name}" is listed twice (case aside)` });
    grades.add(fold(g.name));
  });
  const exact = new Set(body.grades.map((g) => g.name));
  const zones = new Set<string>();
  const codes = new Set<string>();
  body.zones.forEach((z, i) => {
    if (zones.has(fold(z.name)))
      errors.push({ path: `zones.${i}.name`, message: `zone "${z.name}" is listed twice (case aside)` });
    zones.add(fold(z.name));
    z.seats.forEach((s, j) => {
      if (codes.has(fold(s.code)))
        errors.push({
          path: `zones.${i}.seats.${j}.code`,
          message: `seat "${s.code}" is listed twice (case aside)`,
        });
      codes.add(fold(s.code));
      if (!exact.has(s.grade))
        errors.push({ path: `zones.${i}.seats.${j}.grade`, message: `grade "${s.grade}" is not in grades` });
    });
  });
  if (codes.size > 50_000) errors.push({ path: 'zones', message: 'at most 50000 seats per performance' });
  return errors;
}

export class Catalogue {
  // Performances and their seats never change after creation, so each process caches what it reads.
  private readonly infos = new Map<number, Promise<PerformanceInfo | null>>();

  constructor(
    private readonly config: Config,
    private readonly queues: PerformanceQueues,
  ) {}

  async create(body: CreatePerformance): Promise<{ id: number }> {
    const errors = crossCheck(body);
    if (errors.length) throw new ValidationError(errors);
    const sequelize = Performance.sequelize!;
    const id = await this.insert(sequelize, body).catch((err: unknown) => {
      // What folding cannot foresee (accents the collation equates): still the client's mistake.
      if (err instanceof UniqueConstraintError)
        throw new ValidationError([{ path: 'zones', message: 'two names or seat codes collide' }]);
      throw err;
    });
    this.listed = undefined;
    // Registers the queue so that workers start serving it before the first request arrives.
    await this.queues.get(id);
    await this.queues.markFresh(id);
    return { id };
  }

  private insert(sequelize: NonNullable<typeof Performance.sequelize>, body: CreatePerformance) {
    return sequelize.transaction(async (transaction: Transaction) => {
      const p = await Performance.create(
        {
          name: body.name,
          place: body.place,
          showtime: new Date(body.showtime),
          admissionCapacity: body.admissionCapacity ?? null,
          salesOpenAt: body.salesOpenAt ? new Date(body.salesOpenAt) : null,
        },
        { transaction },
      );
      const grades = await SeatGrade.bulkCreate(
        body.grades.map((g) => ({ performanceId: p.id, name: g.name, price: g.price })),
        { transaction },
      );
      const gradeIds = new Map(grades.map((g) => [g.name, g.id]));
      for (const zone of body.zones) {
        const z = await Zone.create({ performanceId: p.id, name: zone.name }, { transaction });
        await Seat.bulkCreate(
          zone.seats.map((s) => ({
            performanceId: p.id,
            zoneId: z.id,
            gradeId: gradeIds.get(s.grade)!,
            code: s.code,
          })),
          { transaction },
        );
      }
      return p.id;
    });
  }

  // The list is read by every visitor: one aggregation over the seats serves every call of the
  // next second (and concurrent calls share the one in flight), not one per call.
  private listed: { at: number; rows: Promise<ListItem[]> } | undefined;
  /** How many times this process aggregated the seats for the list (tests read it). */
  listAggregations = 0;

  async list(): Promise<ListItem[]> {
    const now = Date.now();
    if (!this.listed || now - this.listed.at > LIST_TTL_MS) {
      const rows = this.aggregate();
      const entry = { at: now, rows };
      this.listed = entry;
      rows.catch(() => {
        if (this.listed === entry) this.listed = undefined;
      });
    }
    return this.listed.rows;
  }

  private async aggregate(): Promise<ListItem[]> {
    this.listAggregations++;
    const rows = await Performance.sequelize!.query<{
      id: number;
      name: string;
      place: string;
      showtime: Date;
      sales_open_at: Date | null;
      seatCount: number;
      availableCount: number;
    }>(
      `SELECT p.id, p.name, p.place, p.showtime, p.sales_open_at,
              COUNT(s.id) AS seatCount, COALESCE(SUM(s.status = 'available'), 0) AS availableCount
         FROM performances p LEFT JOIN seats s ON s.performance_id = p.id
        GROUP BY p.id ORDER BY p.showtime, p.id`,
      { type: QueryTypes.SELECT },
    );
    return rows.map((r) => ({
      id: Number(r.id),
      name: r.name,
      place: r.place,
      showtime: new Date(r.showtime).toISOString(),
      salesOpenAt: r.sales_open_at ? new Date(r.sales_open_at).toISOString() : null,
      seatCount: Number(r.seatCount),
      availableCount: Number(r.availableCount),
    }));
  }

  async get(id: number) {
    const p = await Performance.findByPk(id);
    if (!p) throw performanceNotFound(id);
    const [grades, zones] = await Promise.all([
      SeatGrade.findAll({ where: { performanceId: id }, order: [['id', 'ASC']] }),
      Zone.findAll({ where: { performanceId: id }, order: [['id', 'ASC']] }),
    ]);
    return {
      id: p.id,
      name: p.name,
      place: p.place,
      showtime: p.showtime.toISOString(),
      salesOpenAt: p.salesOpenAt?.toISOString() ?? null,
      admissionCapacity: p.admissionCapacity ?? this.config.admissionCapacity,
      maxSeatsPerMember: this.config.maxSeatsPerMember,
      grades: grades.map((g) => ({ id: g.id, name: g.name, price: Number(g.price) })),
      zones: zones.map((z) => ({ id: z.id, name: z.name })),
    };
  }

  /**
   * The seat map and the seat-event sequence it reflects, read in one snapshot: a client that
   * streams events from `lastEventId` on misses nothing and applies nothing twice.
   */
  async seats(performanceId: number) {
    await this.info(performanceId);
    return Performance.sequelize!.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.REPEATABLE_READ },
      async (transaction) => {
        const p = await Performance.findByPk(performanceId, { attributes: ['eventSeq'], transaction });
        const items = await this.seatRows(performanceId, transaction);
        return { items, lastEventId: Number(p?.eventSeq ?? 0) };
      },
    );
  }

  private async seatRows(performanceId: number, transaction: Transaction) {
    const rows = await Performance.sequelize!.query<{
      id: number;
      code: string;
      zone: string;
      grade: string;
      price: number;
      status: 'available' | 'held' | 'sold';
    }>(
      `SELECT s.id, s.code, z.name AS zone, g.name AS grade, g.price, s.status
         FROM seats s JOIN zones z ON z.id = s.zone_id JOIN seat_grades g ON g.id = s.grade_id
        WHERE s.performance_id = ? ORDER BY s.id`,
      { type: QueryTypes.SELECT, replacements: [performanceId], transaction },
    );
    return rows.map((r) => ({ ...r, id: Number(r.id), price: Number(r.price) }));
  }

  /** The performance's admission capacity and seat ids; 404 performance-not-found if it does not exist. */
  async info(performanceId: number): Promise<PerformanceInfo> {
    let p = this.infos.get(performanceId);
    if (!p) {
      p = this.load(performanceId);
      this.infos.set(performanceId, p);
    }
    const info = await p.catch((err: unknown) => {
      this.infos.delete(performanceId);
      throw err;
    });
    if (!info) {
      this.infos.delete(performanceId); // it may be created later
      throw performanceNotFound(performanceId);
    }
    return info;
  }

  private async load(performanceId: number): Promise<PerformanceInfo | null> {
    const p = await Performance.findByPk(performanceId, { attributes: ['id', 'admissionCapacity'] });
    if (!p) return null;
    const seats = await Seat.findAll({ where: { performanceId }, attributes: ['id'], raw: true });
    return {
      id: p.id,
      capacity: p.admissionCapacity ?? this.config.admissionCapacity,
      seatIds: new Set(seats.map((s) => Number(s.id))),
    };
  }
}

export function performanceNotFound(id: number): NotFoundError {
  return new NotFoundError('performance-not-found', `There is no performance ${id}.`);
}
