import test from 'ava';
import { request } from 'node:http';
import { Stack } from './helpers/stack.js';
import { stadiumBody, performanceBody } from '../shared/testing/seed.js';
import { Performance, Seat } from '../shared/db/models/index.js';

// A stadium goes on sale: a 60,000-seat layout in one call, read zone by zone, compressed.
let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 1 });
});
test.after.always(async () => stack?.close());

type SeatItem = { id: number; code: string; zone: string; row?: string; number?: number; status: string };
type Zone = { id: number; name: string; seatCount: number; availableCount: number };

/** The bytes on the wire of a GET (what a phone downloads), with or without gzip. */
function wireBytes(
  path: string,
  token: string,
  gzip: boolean,
): Promise<{ status: number; bytes: number; encoding: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${stack.url}${path}`, {
      headers: { authorization: `Bearer ${token}`, ...(gzip ? { 'accept-encoding': 'gzip' } : {}) },
    });
    req.on('response', (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          bytes,
          encoding: String(res.headers['content-encoding'] ?? 'identity'),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

test.serial(
  'when an admin creates a 60,000-seat stadium in one call, then it is read zone by zone and the compressed listings stay small',
  async (t) => {
    const admin = await stack.admin();
    const body = stadiumBody(60_000, { name: `stadium ${stack.config.keyPrefix}`, admissionCapacity: 10 });
    const json = JSON.stringify(body);
    const started = performance.now();
    const created = await stack.http<{ id: number }>('POST', '/api/performances', {
      token: admin,
      raw: json,
    });
    const ms = performance.now() - started;
    t.is(created.status, 201, JSON.stringify(created.body));
    t.log(`created a 60,000-seat performance (${json.length} bytes of layout) in ${Math.round(ms)} ms`);
    const id = created.body.id;
    t.is(await Seat.count({ where: { performanceId: id } }), 60_000);

    const perf = await stack.http<{
      seatCount: number;
      availableCount: number;
      heldCount: number;
      soldCount: number;
      soldOut: boolean;
      zones: Zone[];
    }>('GET', `/api/performances/${id}`);
    t.like(perf.body, {
      seatCount: 60_000,
      availableCount: 60_000,
      heldCount: 0,
      soldCount: 0,
      soldOut: false,
    });
    t.is(perf.body.zones.length, 80);
    t.like(perf.body.zones[0], { name: 'Block 101', seatCount: 750, availableCount: 750 });

    const [member] = await stack.members(1);
    await stack.admit(member!.token, id);
    const zone = perf.body.zones[3]!;
    const one = await stack.http<{ items: SeatItem[]; lastEventId: number }>(
      'GET',
      `/api/performances/${id}/seats?zone=${zone.id}`,
      { token: member!.token },
    );
    t.is(one.status, 200);
    t.is(one.body.items.length, 750);
    t.true(one.body.items.every((s) => s.zone === zone.name && s.status === 'available'));
    t.like(one.body.items[0], { code: 'A-1', row: 'A', number: 1 });
    t.like(one.body.items[749], { code: 'Z-30', row: 'Z', number: 30 });
    t.is(one.body.lastEventId, 0);

    // What a phone downloads: the performance (zones and counts), then one zone; and the full map.
    const overview = await wireBytes(`/api/performances/${id}`, member!.token, true);
    const zoneGzip = await wireBytes(`/api/performances/${id}/seats?zone=${zone.id}`, member!.token, true);
    const fullGzip = await wireBytes(`/api/performances/${id}/seats`, member!.token, true);
    const fullRaw = await wireBytes(`/api/performances/${id}/seats`, member!.token, false);
    t.is(zoneGzip.encoding, 'gzip');
    t.is(fullGzip.encoding, 'gzip');
    t.is(fullRaw.encoding, 'identity');
    t.log(
      `bytes on the wire: performance ${overview.bytes} (${overview.encoding}), one zone of 750 seats ${zoneGzip.bytes} gzip, ` +
        `all 60,000 seats ${fullGzip.bytes} gzip vs ${fullRaw.bytes} uncompressed`,
    );
    t.true(overview.bytes + zoneGzip.bytes < 20_000, 'a zone map is under 20 KB');
    t.true(fullGzip.bytes < 600_000, 'the whole stadium is under 600 KB compressed');
    t.true(fullGzip.bytes * 5 < fullRaw.bytes);

    // A zone of another performance, or no zone id at all.
    const other = await stack.performance(5);
    const otherZone = (await stack.http<{ zones: Zone[] }>('GET', `/api/performances/${other.performanceId}`))
      .body.zones[0]!;
    const foreign = await stack.http('GET', `/api/performances/${id}/seats?zone=${otherZone.id}`, {
      token: member!.token,
    });
    t.is(foreign.status, 404);
    t.is(foreign.body['code'], 'zone-not-found');
    const junk = await stack.http('GET', `/api/performances/${id}/seats?zone=north`, {
      token: member!.token,
    });
    t.is(junk.status, 400);
    t.is(junk.body['code'], 'validation-failed');
  },
);

test.serial(
  'when a layout is wrong, too large or sent by a member, then it is refused with a clear 4xx and nothing is created',
  async (t) => {
    const admin = await stack.admin();
    const [member] = await stack.members(1);
    const refused = `refused ${stack.config.keyPrefix}`;
    const base = performanceBody(10, { name: refused });
    const cases: [string, unknown, number, string, string?][] = [
      [
        'a showtime in the past',
        { ...base, showtime: '2020-01-01T20:00:00Z' },
        400,
        'validation-failed',
        'body.showtime',
      ],
      [
        'a row with an unknown grade',
        { ...base, zones: [{ name: 'N', rows: [{ name: 'A', seats: 10, grade: 'Gold' }] }] },
        400,
        'validation-failed',
        'zones.0.rows.0.grade',
      ],
      [
        'a row that overlaps another',
        {
          ...base,
          zones: [
            {
              name: 'N',
              rows: [
                { name: 'A', seats: 10, grade: 'R' },
                { name: 'A', seats: 5, grade: 'R', start: 8 },
              ],
            },
          ],
        },
        400,
        'validation-failed',
        'zones.0.rows.1',
      ],
      ['a zone without seats', { ...base, zones: [{ name: 'N' }] }, 400, 'validation-failed', 'zones.0'],
      [
        'a row of zero seats',
        { ...base, zones: [{ name: 'N', rows: [{ name: 'A', seats: 0, grade: 'R' }] }] },
        400,
        'validation-failed',
        'body.zones.0.rows.0.seats',
      ],
      [
        'more than 100,000 seats',
        {
          ...base,
          zones: [
            {
              name: 'N',
              rows: Array.from({ length: 101 }, (_, i) => ({ name: `R${i}`, seats: 1000, grade: 'R' })),
            },
          ],
        },
        400,
        'validation-failed',
        'zones',
      ],
      [
        'a body over 2 MiB',
        {
          ...base,
          zones: [
            {
              name: 'N',
              seats: Array.from({ length: 70_000 }, (_, i) => ({ code: `seat-number-${i}`, grade: 'R' })),
            },
          ],
        },
        413,
        'payload-too-large',
      ],
    ];
    for (const [what, body, status, code, path] of cases) {
      const r = await stack.http<{ code: string; errors?: { path: string }[] }>('POST', '/api/performances', {
        token: admin,
        body,
      });
      t.is(r.status, status, what);
      t.is(r.body.code, code, what);
      if (path)
        t.true(
          r.body.errors!.some((e) => e.path === path),
          `${what}: ${JSON.stringify(r.body.errors)}`,
        );
    }
    // The large body is for the ADMIN only: a member's large body is refused before it is read.
    const big = {
      ...base,
      zones: [
        { name: 'N', seats: Array.from({ length: 1800 }, (_, i) => ({ code: `N-${i + 1}`, grade: 'R' })) },
      ],
    };
    t.true(JSON.stringify(big).length > 16_384);
    const asMember = await stack.http('POST', '/api/performances', { token: member!.token, body: big });
    t.is(asMember.status, 403);
    const seats1800 = await stack.http<{ id: number }>('POST', '/api/performances', {
      token: admin,
      body: { ...big, name: `accepted ${stack.config.keyPrefix}` },
    });
    t.is(seats1800.status, 201, '1,800 seats is no longer a 413');
    const otherRoute = await stack.http('POST', '/api/members', {
      raw: JSON.stringify({ email: 'x@example.com', password: 'x'.repeat(20_000) }),
    });
    t.is(otherRoute.status, 413, 'every other route keeps the 16 KiB limit');
    t.is(await Performance.count({ where: { name: refused } }), 0, 'no refused layout created anything');
    t.is(await Seat.count({ where: { performanceId: seats1800.body.id } }), 1800);
  },
);
