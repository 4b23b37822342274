import test from 'ava';
import { expandLayout, MAX_SEATS_PER_PERFORMANCE } from '../shared/domain/layout.js';

test('when a zone lists rows and single seats, then the seats follow rows then seats, with row and number', (t) => {
  const { seats, errors } = expandLayout(
    ['R', 'S'],
    [
      {
        name: 'North',
        rows: [{ name: 'A', seats: 3, grade: 'R', start: 10 }],
        seats: [{ code: 'box-1', grade: 'S' }],
      },
    ],
  );
  t.deepEqual(errors, []);
  t.deepEqual(
    seats.map((s) => [s.code, s.row, s.number, s.grade]),
    [
      ['A-10', 'A', 10, 'R'],
      ['A-11', 'A', 11, 'R'],
      ['A-12', 'A', 12, 'R'],
      ['box-1', null, null, 'S'],
    ],
  );
});

test('when two zones have the same row names, then both are valid (codes are unique within a zone)', (t) => {
  const zone = (name: string) => ({ name, rows: [{ name: 'A', seats: 2, grade: 'R' }] });
  t.deepEqual(expandLayout(['R'], [zone('North'), zone('South')]).errors, []);
});

test('when codes differ only by case, then they are two seats (compared exactly)', (t) => {
  const r = expandLayout(
    ['R'],
    [
      {
        name: 'N',
        seats: [
          { code: 'a-1', grade: 'R' },
          { code: 'A-1', grade: 'R' },
        ],
      },
    ],
  );
  t.deepEqual(r.errors, []);
  t.is(r.seats.length, 2);
});

test('when a layout repeats a zone, overlaps rows, names a missing grade or has an empty zone, then each is an error with its path', (t) => {
  const { errors } = expandLayout(
    ['R'],
    [
      {
        name: 'N',
        rows: [
          { name: 'A', seats: 5, grade: 'R' },
          { name: 'A', seats: 2, grade: 'X', start: 5 },
        ],
      },
      { name: 'N', seats: [] },
    ],
  );
  t.deepEqual(
    errors.map((e) => e.path),
    ['zones.0.rows.1.grade', 'zones.0.rows.1', 'zones.1.name', 'zones.1'],
  );
});

test('when a layout has more seats than a performance may have, then it is one error and no seats', (t) => {
  const rows = Array.from({ length: 101 }, (_, i) => ({ name: `R${i}`, seats: 1000, grade: 'R' }));
  const r = expandLayout(['R'], [{ name: 'N', rows }]);
  t.is(r.seats.length, 0);
  t.is(r.errors.length, 1);
  t.regex(r.errors[0]!.message, new RegExp(`at most ${MAX_SEATS_PER_PERFORMANCE}`));
});

test('when two zone names differ only by case, then the second is listed twice (as MySQL compares names)', (t) => {
  const zone = (name: string) => ({ name, seats: [{ code: '1', grade: 'R' }] });
  t.deepEqual(
    expandLayout(['R'], [zone('North'), zone('north')]).errors.map((e) => e.path),
    ['zones.1.name'],
  );
});
