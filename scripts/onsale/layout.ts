import type { CreatePerformance } from '../../shared/catalogue/catalogue.service.js';

/** A stadium's zones, each of rows of numbered seats; the front zone is the hot one. */
export type StadiumLayout = {
  zones: { name: string; rows: { name: string; seats: number; grade: string }[] }[];
};

const ROW_SEATS = 25;
const ZONE_ROWS = 10;

/**
 * `seats` seats as a stadium: zones of up to 10 rows of 25 (Floor first, then sections 101, 102 …),
 * the front rows of each zone VIP. The one place the layout is made.
 */
export function stadiumLayout(seats: number): StadiumLayout {
  const zones: StadiumLayout['zones'] = [];
  for (let left = seats, z = 0; left > 0; z++) {
    const rows: StadiumLayout['zones'][number]['rows'] = [];
    for (let r = 0; r < ZONE_ROWS && left > 0; r++) {
      const n = Math.min(ROW_SEATS, left);
      rows.push({ name: String.fromCharCode(65 + r), seats: n, grade: r < 2 ? 'VIP' : z < 4 ? 'R' : 'S' });
      left -= n;
    }
    zones.push({ name: z === 0 ? 'Floor' : `Section ${100 + z}`, rows });
  }
  return { zones };
}

/**
 * The POST /api/performances body of a layout, as rows: row `A` of 25 in Section 101 is seats `A-1`
 * … `A-25` of that zone, side by side (best available seats members together within a row).
 */
export function performanceBodyOf(
  layout: StadiumLayout,
  opts: { name: string; admissionCapacity: number },
): CreatePerformance {
  return {
    name: opts.name,
    place: 'Simulated stadium',
    showtime: new Date(Date.now() + 30 * 86400_000).toISOString(),
    admissionCapacity: opts.admissionCapacity,
    grades: [
      { name: 'VIP', price: 180000 },
      { name: 'R', price: 120000 },
      { name: 'S', price: 80000 },
    ],
    zones: layout.zones.map((z) => ({
      name: z.name,
      rows: z.rows.map((r) => ({ name: r.name, seats: r.seats, grade: r.grade })),
    })),
  };
}
