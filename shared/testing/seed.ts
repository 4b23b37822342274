import { randomBytes } from 'node:crypto';
import { Member } from '../db/models/index.js';
import { hashPassword } from '../auth/passwords.js';
import type { Catalogue, CreatePerformance } from '../catalogue/catalogue.service.js';
import { Seat } from '../db/models/index.js';

/** A performance body with `seats` seats in zones of up to 100, two grades. */
export function performanceBody(
  seats: number,
  opts: { name?: string; admissionCapacity?: number } = {},
): CreatePerformance {
  const zones: CreatePerformance['zones'] = [];
  for (let i = 0; i < seats; i += 100) {
    const zone = String.fromCharCode(65 + ((i / 100) % 26)) + (i >= 2600 ? String(Math.floor(i / 2600)) : '');
    const n = Math.min(100, seats - i);
    zones.push({
      name: zone,
      seats: Array.from({ length: n }, (_, j) => ({ code: `${zone}-${j + 1}`, grade: j < 20 ? 'VIP' : 'R' })),
    });
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
  opts: { name?: string; admissionCapacity?: number } = {},
): Promise<{ performanceId: number; seatIds: number[] }> {
  const { id } = await catalogue.create(performanceBody(seats, opts));
  const rows = await Seat.findAll({
    where: { performanceId: id },
    attributes: ['id'],
    order: [['id', 'ASC']],
  });
  return { performanceId: id, seatIds: rows.map((s) => s.id) };
}
