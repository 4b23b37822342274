// A venue layout: zones of rows and single seats, expanded to the seats a performance sells.
// Pure rules (no I/O): the catalogue validates with these before it writes anything.

export type LayoutRow = { name: string; seats: number; grade: string; start?: number | undefined };
export type LayoutSeat = { code: string; grade: string };
export type LayoutZone = { name: string; seats?: LayoutSeat[] | undefined; rows?: LayoutRow[] | undefined };
export type LayoutFieldError = { path: string; message: string };

/** One seat to create: its zone's index in the body, its grade name, code, and row and number when in a row. */
export type SeatSpec = {
  zone: number;
  grade: string;
  code: string;
  row: string | null;
  number: number | null;
};

export const MAX_SEATS_PER_PERFORMANCE = 100_000;
const MAX_ERRORS = 50;

/** A row's seat code: `A-1` for seat 1 of row A. */
export function seatCode(row: string, number: number): string {
  return `${row}-${number}`;
}

/**
 * The seats of a layout in body order (each zone's rows, then its single seats), or the errors that
 * make it invalid: a zone listed twice, a grade that is not in `grades`, a code twice in one zone
 * (compared exactly), a zone without seats, more seats than a performance may have.
 */
export function expandLayout(
  grades: readonly string[],
  zones: readonly LayoutZone[],
): { seats: SeatSpec[]; errors: LayoutFieldError[] } {
  const errors: LayoutFieldError[] = [];
  const add = (path: string, message: string) => {
    if (errors.length < MAX_ERRORS) errors.push({ path, message });
  };
  const gradeSet = new Set(grades);
  const zoneNames = new Set<string>();
  const seats: SeatSpec[] = [];
  let total = 0;
  zones.forEach((z) => {
    total += (z.seats?.length ?? 0) + (z.rows ?? []).reduce((n, r) => n + r.seats, 0);
  });
  if (total > MAX_SEATS_PER_PERFORMANCE) {
    add('zones', `at most ${MAX_SEATS_PER_PERFORMANCE} seats per performance (this layout has ${total})`);
    return { seats: [], errors };
  }
  zones.forEach((z, i) => {
    // Zone names are compared as MySQL compares them (case-insensitive): a clear 400, not a duplicate key.
    const key = z.name.toLowerCase();
    if (zoneNames.has(key)) add(`zones.${i}.name`, `zone "${z.name}" is listed twice`);
    zoneNames.add(key);
    const codes = new Set<string>();
    const before = seats.length;
    (z.rows ?? []).forEach((r, j) => {
      if (!gradeSet.has(r.grade)) add(`zones.${i}.rows.${j}.grade`, `grade "${r.grade}" is not in grades`);
      const start = r.start ?? 1;
      for (let n = start; n < start + r.seats; n++) {
        const code = seatCode(r.name, n);
        if (codes.has(code)) {
          add(`zones.${i}.rows.${j}`, `seat "${code}" is listed twice in zone "${z.name}"`);
          break;
        }
        codes.add(code);
        seats.push({ zone: i, grade: r.grade, code, row: r.name, number: n });
      }
    });
    (z.seats ?? []).forEach((s, j) => {
      if (!gradeSet.has(s.grade)) add(`zones.${i}.seats.${j}.grade`, `grade "${s.grade}" is not in grades`);
      if (codes.has(s.code))
        add(`zones.${i}.seats.${j}.code`, `seat "${s.code}" is listed twice in zone "${z.name}"`);
      codes.add(s.code);
      seats.push({ zone: i, grade: s.grade, code: s.code, row: null, number: null });
    });
    if (seats.length === before) add(`zones.${i}`, 'a zone needs at least one seat (rows or seats)');
  });
  return { seats, errors };
}
