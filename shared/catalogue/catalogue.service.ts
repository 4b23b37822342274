import { QueryTypes, Transaction, UniqueConstraintError } from 'sequelize';
import { expandLayout, MAX_SEATS_PER_PERFORMANCE, type SeatSpec } from '../domain/layout.js';
import { isSoldOut, SeatStockRepository } from '../db/repositories/seat-stock.repository.js';
import { z } from 'zod';
import type { Config } from '../config.js';
import { NotFoundError, ValidationError, type FieldError } from '../errors.js';
import { CommitFence, Performance, Seat, SeatGrade, Zone } from '../db/models/index.js';
import type { PerformanceQueues } from '../queues/performance-queues.js';
import type { StockState } from '../domain/seats.js';
import { SeatTallies } from './seat-tally.js';

const name = z.string().trim().min(1).max(100);
const rowSchema = z.strictObject({
  name: z
    .string()
    .trim()
    .min(1)
    .max(20)
    .regex(/^[^\s-]+$/, 'a row name has no spaces or dashes'),
  seats: z.number().int().min(1).max(1000),
  grade: name,
  start: z.number().int().min(0).max(1_000_000).optional(),
});
const seatSchema = z.strictObject({ code: z.string().trim().min(1).max(50), grade: name });

/** The years MySQL's DATETIME holds (and reads back as written): 1000 to 9999, in UTC. */
export function inStoredYears(iso: string): boolean {
  const year = new Date(iso).getUTCFullYear();
  return year >= 1000 && year <= 9999;
}

/**
 * A time of the sale (showtime, salesOpenAt): ISO 8601 with an offset, in the years 1000 to 9999
 * UTC. `9999-12-31T23:00:00-05:00` is in year 10000 and `1000-01-01T00:30:00+01:00` in year 999:
 * both refused (MySQL would fail on the first and read the second back wrong).
 */
export const saleTime = z.iso
  .datetime({ offset: true })
  .regex(/^[1-9]/, 'a year from 1000 to 9999')
  .refine(inStoredYears, 'must fall between the years 1000 and 9999 in UTC')
  .meta({ description: 'ISO 8601 with an offset; the year in UTC is 1000 to 9999' });

export const SALES_OPEN_AFTER_SHOWTIME = 'salesOpenAt must be before the showtime';

export const createPerformanceSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    place: z.string().trim().min(1).max(200),
    showtime: saleTime.refine((s) => Date.parse(s) > Date.now(), 'the showtime is in the past'),
    salesOpenAt: saleTime.optional().describe('Before the showtime; unset: the sale is open at once'),
    admissionCapacity: z.number().int().min(1).max(1_000_000).optional(),
    queueMode: z
      .enum(['fifo', 'shuffle-at-open'])
      .optional()
      .describe(
        'fifo (default): ticket order; shuffle-at-open: who joins before salesOpenAt is shuffled at opening',
      ),
    admissionsPerMinute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe('Outflow cap (unset: none)'),
    grades: z
      .array(z.strictObject({ name, price: z.number().min(0).max(9_999_999_999) }))
      .min(1)
      .max(50),
    zones: z
      .array(
        z
          .strictObject({
            name,
            seats: z.array(seatSchema).max(MAX_SEATS_PER_PERFORMANCE).optional(),
            rows: z.array(rowSchema).max(10_000).optional(),
          })
          // Not expressible in zod's types; layout.ts refuses a zone without seats, the document says so.
          .meta({ anyOf: [{ required: ['rows'] }, { required: ['seats'] }] }),
      )
      .min(1)
      .max(500),
  })
  .superRefine((body, ctx) => {
    if (body.salesOpenAt && Date.parse(body.salesOpenAt) >= Date.parse(body.showtime))
      ctx.addIssue({ code: 'custom', path: ['salesOpenAt'], message: SALES_OPEN_AFTER_SHOWTIME });
  });
export type CreatePerformance = z.infer<typeof createPerformanceSchema>;

const LIST_TTL_MS = 1000;

type ListItem = {
  id: number;
  name: string;
  place: string;
  showtime: string;
  salesOpenAt: string | null;
  seatCount: number;
  availableCount: number;
  soldOut: boolean;
  currency: string;
};

export type PerformanceInfo = {
  id: number;
  capacity: number;
  seatIds: ReadonlySet<number>;
  zoneIds: ReadonlySet<number>;
  gradeIds: ReadonlySet<number>;
};

/** Cross-field rules the schema cannot express: unique names and codes, grades that exist. */
function crossCheck(body: CreatePerformance): { seats: SeatSpec[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const grades = new Set<string>(); // compared as MySQL's unique key compares them
  body.grades.forEach((g, i) => {
    if (grades.has(g.name.toLowerCase()))
      errors.push({ path: `grades.${i}.name`, message: `grade "${g.name}" is listed twice` });
    grades.add(g.name.toLowerCase());
  });
  const layout = expandLayout(
    body.grades.map((g) => g.name),
    body.zones,
  );
  return {
    seats: layout.seats,
    errors: [...errors, ...layout.errors],
  };
}

const INSERT_CHUNK = 5000;

export class Catalogue {
  // Performances and their seats never change after creation, so each process caches what it reads.
  private readonly infos = new Map<number, Promise<PerformanceInfo | null>>();
  private readonly layouts = new Map<
    number,
    Promise<{ grades: { id: number; name: string; price: number }[]; zones: { id: number; name: string }[] }>
  >();
  /** Seat counts per performance, following the seat events (seat-tally.ts). */
  readonly tallies: SeatTallies;

  constructor(
    private readonly config: Config,
    private readonly queues: PerformanceQueues,
  ) {
    this.tallies = new SeatTallies(Performance.sequelize!);
  }

  async create(body: CreatePerformance): Promise<{ id: number }> {
    const { seats, errors } = crossCheck(body);
    if (errors.length) throw new ValidationError(errors);
    const sequelize = Performance.sequelize!;
    const id = await this.insert(sequelize, body, seats).catch((err: unknown) => {
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

  private insert(
    sequelize: NonNullable<typeof Performance.sequelize>,
    body: CreatePerformance,
    seats: SeatSpec[],
  ) {
    return sequelize.transaction(async (transaction: Transaction) => {
      const p = await Performance.create(
        {
          name: body.name,
          place: body.place,
          showtime: new Date(body.showtime),
          admissionCapacity: body.admissionCapacity ?? null,
          salesOpenAt: body.salesOpenAt ? new Date(body.salesOpenAt) : null,
          queueMode: body.queueMode ?? 'fifo',
          admissionsPerMinute: body.admissionsPerMinute ?? null,
        },
        { transaction },
      );
      const grades = await SeatGrade.bulkCreate(
        body.grades.map((g) => ({ performanceId: p.id, name: g.name, price: g.price })),
        { transaction },
      );
      const gradeIds = new Map(grades.map((g) => [g.name, g.id]));
      const zones = await Zone.bulkCreate(
        body.zones.map((z) => ({ performanceId: p.id, name: z.name })),
        { transaction },
      );
      // Multi-row INSERTs of a few thousand seats each: a stadium is a dozen statements.
      for (let i = 0; i < seats.length; i += INSERT_CHUNK) {
        const values = seats
          .slice(i, i + INSERT_CHUNK)
          .map(
            (s) =>
              `(${p.id},${zones[s.zone]!.id},${gradeIds.get(s.grade)!},${sequelize.escape(s.code)},${
                s.row === null ? 'NULL' : sequelize.escape(s.row)
              },${s.number ?? 'NULL'})`,
          )
          .join(',');
        await sequelize.query(
          `INSERT INTO seats (performance_id, zone_id, grade_id, code, \`row\`, number) VALUES ${values}`,
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
      soldCount: number;
    }>(
      `SELECT p.id, p.name, p.place, p.showtime, p.sales_open_at,
              COUNT(s.id) AS seatCount, COALESCE(SUM(s.status = 'available'), 0) AS availableCount,
              COALESCE(SUM(s.status = 'sold'), 0) AS soldCount
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
      soldOut: Number(r.seatCount) > 0 && Number(r.soldCount) === Number(r.seatCount),
      currency: this.config.currency,
    }));
  }

  /**
   * The performance as the public reads it (the busiest URL of a sale): one primary-key read, the
   * grades and zones cached (they never change), and the counts from this process's seat tally,
   * which follows the seat events: exact when no commit came since, else at most MAX_LAG_MS behind.
   */
  async get(id: number) {
    const p = await Performance.findByPk(id);
    if (!p) throw performanceNotFound(id);
    const [{ grades, zones }, { stock, zones: byZone }] = await Promise.all([
      this.layout(id),
      this.tallies.counts(id, Number(p.eventSeq)),
    ]);
    return {
      id: p.id,
      name: p.name,
      place: p.place,
      showtime: p.showtime.toISOString(),
      salesOpenAt: p.salesOpenAt?.toISOString() ?? null,
      admissionCapacity: p.admissionCapacity ?? this.config.admissionCapacity,
      maxSeatsPerMember: this.config.maxSeatsPerMember,
      currency: this.config.currency,
      seatCount: stock.seatCount,
      availableCount: stock.available,
      heldCount: stock.held,
      soldCount: stock.sold,
      soldOut: isSoldOut(stock),
      grades,
      zones: zones.map((z) => ({
        ...z,
        seatCount: byZone.get(z.id)?.seatCount ?? 0,
        availableCount: byZone.get(z.id)?.available ?? 0,
      })),
    };
  }

  private layout(id: number) {
    let l = this.layouts.get(id);
    if (!l) {
      if (this.layouts.size >= 1000) this.layouts.clear();
      l = Promise.all([
        SeatGrade.findAll({ where: { performanceId: id }, order: [['id', 'ASC']] }),
        Zone.findAll({ where: { performanceId: id }, order: [['id', 'ASC']] }),
      ]).then(([grades, zones]) => ({
        grades: grades.map((g) => ({ id: g.id, name: g.name, price: Number(g.price) })),
        zones: zones.map((z) => ({ id: z.id, name: z.name })),
      }));
      this.layouts.set(id, l);
      l.catch(() => this.layouts.delete(id));
    }
    return l;
  }

  /**
   * The seat map (or one zone of it) and the seat-event sequence it reflects, read in one snapshot:
   * a client that streams events from `lastEventId` on misses nothing and applies nothing twice.
   */
  async seats(performanceId: number, zoneId?: number) {
    await this.info(performanceId);
    return Performance.sequelize!.transaction(
      { isolationLevel: Transaction.ISOLATION_LEVELS.REPEATABLE_READ },
      async (transaction) => {
        const p = await CommitFence.findByPk(performanceId, { attributes: ['eventSeq'], transaction });
        if (zoneId !== undefined) {
          const zone = await Zone.findOne({ where: { id: zoneId, performanceId }, transaction });
          if (!zone)
            throw new NotFoundError('zone-not-found', `Performance ${performanceId} has no zone ${zoneId}.`);
        }
        const items = await this.seatRows(performanceId, zoneId, transaction);
        return { items, lastEventId: Number(p?.eventSeq ?? 0) };
      },
    );
  }

  private async seatRows(performanceId: number, zoneId: number | undefined, transaction: Transaction) {
    const rows = await Performance.sequelize!.query<{
      id: number;
      code: string;
      zone: string;
      row: string | null;
      number: number | null;
      grade: string;
      price: number;
      status: 'available' | 'held' | 'sold';
    }>(
      `SELECT s.id, s.code, z.name AS zone, s.\`row\`, s.number, g.name AS grade, g.price, s.status
         FROM seats s JOIN zones z ON z.id = s.zone_id JOIN seat_grades g ON g.id = s.grade_id
        WHERE s.performance_id = ?${zoneId === undefined ? '' : ' AND s.zone_id = ?'} ORDER BY s.id`,
      {
        type: QueryTypes.SELECT,
        replacements: zoneId === undefined ? [performanceId] : [performanceId, zoneId],
        transaction,
      },
    );
    // row and number only for seats in a row: a 60,000-seat map is sent to every admitted member.
    return rows.map(({ row, number, ...r }) => ({
      ...r,
      id: Number(r.id),
      price: Number(r.price),
      ...(row === null ? {} : { row, number: Number(number) }),
    }));
  }

  /** 400 unless `salesOpenAt` is before the performance's showtime; 404 if there is no performance. */
  async checkSalesOpenAt(performanceId: number, salesOpenAt: string): Promise<void> {
    const p = await Performance.findByPk(performanceId, { attributes: ['id', 'showtime'] });
    if (!p) throw performanceNotFound(performanceId);
    if (Date.parse(salesOpenAt) >= p.showtime.getTime())
      throw new ValidationError([
        { path: 'body.salesOpenAt', message: `${SALES_OPEN_AFTER_SHOWTIME} (${p.showtime.toISOString()})` },
      ]);
  }

  /** What is left to sell, for the waiting room. */
  async stockState(performanceId: number): Promise<StockState> {
    const states = await new SeatStockRepository(Performance.sequelize!).states([performanceId]);
    return states.get(performanceId)!;
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
    const [seats, zones, grades] = await Promise.all([
      Seat.findAll({ where: { performanceId }, attributes: ['id'], raw: true }),
      Zone.findAll({ where: { performanceId }, attributes: ['id'], raw: true }),
      SeatGrade.findAll({ where: { performanceId }, attributes: ['id'], raw: true }),
    ]);
    return {
      id: p.id,
      capacity: p.admissionCapacity ?? this.config.admissionCapacity,
      seatIds: new Set(seats.map((s) => Number(s.id))),
      zoneIds: new Set(zones.map((z) => Number(z.id))),
      gradeIds: new Set(grades.map((g) => Number(g.id))),
    };
  }
}

export function performanceNotFound(id: number): NotFoundError {
  return new NotFoundError('performance-not-found', `There is no performance ${id}.`);
}
