import { randomBytes } from 'node:crypto';
import { Member } from '../db/models/index.js';
import { hashPassword } from '../auth/passwords.js';
import type { Catalogue, CreatePerformance } from '../catalogue/catalogue.service.js';
import { Seat } from '../db/models/index.js';

/**
 * A performance body with `seats` seats in zones of up to 100 (A, B, …), each zone rows A–E of 20 seats;
 * row A (the first 20 seats of a zone) is VIP. Seat ids follow zone, row and number, so tests can
 * rely on their order: the first seat is zone A's `A-1`, VIP.
 */
export function performanceBody(
  seats: number,
  opts: { name?: string; admissionCapacity?: number } = {},
): CreatePerformance {
  const zones: CreatePerformance['zones'] = [];
  for (let i = 0; i < seats; i += 100) {
    const zone = String.fromCharCode(65 + ((i / 100) % 26)) + (i >= 2600 ? String(Math.floor(i / 2600)) : '');
    const n = Math.min(100, seats - i);
    const rows: NonNullable<CreatePerformance['zones'][number]['rows']> = [];
    for (let r = 0; r * 20 < n; r++)
      rows.push({
        name: String.fromCharCode(65 + r),
        seats: Math.min(20, n - r * 20),
        grade: r === 0 ? 'VIP' : 'R',
      });
    zones.push({ name: zone, rows });
  }
  return {
    name: opts.name ?? 'Demo concert',
    place: 'Main hall',
    showtime: new Date(Date.now() + 30 * 86400_000).toISOString(),
    ...(opts.admissionCapacity ? { admissionCapacity: opts.admissionCapacity } : {}),
    grades: [
      { name: 'VIP', price: 150000 },
      { name: 'R', price: 99000 },
    ],
    zones,
  };
}

/**
 * A stadium: blocks of 25 rows (A–Z without I) of 30 seats, the last block smaller; rows A–E are
 * Premium, the rest Standard. 60,000 seats is 80 blocks.
 */
export function stadiumBody(
  seats: number,
  opts: { name?: string; place?: string; admissionCapacity?: number } = {},
): CreatePerformance {
  const rowNames = 'ABCDEFGHJKLMNOPQRSTUVWXYZ'.split('');
  const perRow = 30;
  const perBlock = perRow * rowNames.length;
  const zones: CreatePerformance['zones'] = [];
  for (let i = 0, block = 101; i < seats; i += perBlock, block++) {
    const n = Math.min(perBlock, seats - i);
    const rows = [];
    for (let r = 0; r * perRow < n; r++)
      rows.push({
        name: rowNames[r]!,
        seats: Math.min(perRow, n - r * perRow),
        grade: r < 5 ? 'Premium' : 'Standard',
      });
    zones.push({ name: `Block ${block}`, rows });
  }
  return {
    name: opts.name ?? 'Stadium concert',
    place: opts.place ?? 'City Stadium',
    showtime: new Date(Date.now() + 30 * 86400_000).toISOString(),
    ...(opts.admissionCapacity ? { admissionCapacity: opts.admissionCapacity } : {}),
    grades: [
      { name: 'Premium', price: 180000 },
      { name: 'Standard', price: 95000 },
    ],
    zones,
  };
}

/** Members that share one password (hashed once): load tools log them in or mint tokens for them. */
export async function seedMembers(count: number, password: string): Promise<{ id: number; email: string }[]> {
  const run = randomBytes(4).toString('hex');
  const passwordHash = await hashPassword(password);
  const out: { id: number; email: string }[] = [];
  for (let i = 0; i < count; i += 1000) {
    const rows = Array.from({ length: Math.min(1000, count - i) }, (_, j) => ({
      email: `member-${run}-${i + j + 1}@example.com`,
      passwordHash,
      role: 'USER' as const,
    }));
    await Member.bulkCreate(rows);
    const created = await Member.findAll({
      where: { email: rows.map((r) => r.email) },
      attributes: ['id', 'email'],
      order: [['id', 'ASC']],
    });
    out.push(...created.map((m) => ({ id: m.id, email: m.email })));
  }
  return out;
}

export async function seedPerformance(
  catalogue: Catalogue,
  seats: number,
  opts: { name?: string; admissionCapacity?: number; layout?: 'test' | 'stadium' } = {},
): Promise<{ performanceId: number; seatIds: number[] }> {
  const body = opts.layout === 'stadium' ? stadiumBody(seats, opts) : performanceBody(seats, opts);
  const { id } = await catalogue.create(body);
  const rows = await Seat.findAll({
    where: { performanceId: id },
    attributes: ['id'],
    order: [['id', 'ASC']],
  });
  return { performanceId: id, seatIds: rows.map((s) => s.id) };
}
