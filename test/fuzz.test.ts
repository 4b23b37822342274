import test from 'ava';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { QueryTypes } from 'sequelize';
import { Stack, eventually, type TestMember } from './helpers/stack.js';
import { disagreement } from './helpers/openapi-check.js';
import { performanceBody } from '../shared/testing/seed.js';

// The standing fuzz test: a few thousand random and malformed requests across every endpoint, with
// valid, forged, expired and foreign tokens. Nothing may answer 5xx, every answer must agree with
// the OpenAPI document (status, content type, body), and the seats, holds and
// requests of the sale must be exactly as they were. A valid token is only ever sent with a request
// that cannot be valid (or one that changes none of those: reads, the waiting room), so any change
// is a request that should have been refused. FUZZ_SEED reproduces a run; FUZZ_REQUESTS sizes it.

const REQUESTS = Number(process.env['FUZZ_REQUESTS'] ?? 2500);
const SEED = Number(process.env['FUZZ_SEED'] ?? randomBytes(4).readUInt32LE());
const CONCURRENCY = 12;

let stack: Stack;
test.before(async () => {
  stack = await Stack.start({ workers: 1 });
});
test.after.always(async () => stack?.close());

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof prng>;

const WEIRD_STRINGS = [
  '',
  ' ',
  'a',
  '\u0000',
  '%00',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  'null',
  'NaN',
  '-1',
  '0',
  '1e309',
  '９',
  '💺',
  'x'.repeat(300),
  'x'.repeat(5000),
  '\uFFFF\uD800',
  'VIP',
  'vip',
];
const WEIRD_NUMBERS = [0, -1, 1.5, 1e308, -1e308, 2 ** 53, 2 ** 63, 987654321, 4.2e-7, 9_999_999_999];

function value(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 4 : 7)) {
    case 0:
      return r.pick(WEIRD_STRINGS);
    case 1:
      return r.pick(WEIRD_NUMBERS);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return r.int(1000);
    case 4:
      return Array.from({ length: r.int(6) }, () => value(r, depth + 1));
    case 5:
      return Object.fromEntries(
        Array.from({ length: r.int(5) }, () => [
          r.pick(['seatIds', 'payment', 'email', 'password', 'name', '__proto__', 'constructor', 'x']),
          value(r, depth + 1),
        ]),
      );
    default:
      return { seatIds: Array.from({ length: r.int(8) }, () => value(r, depth + 1)) };
  }
}

function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** Bodies that no schema accepts as a valid request of the given kind. */
function invalidBody(r: Rng, kind: 'hold' | 'confirm' | 'any', seatIds: number[], foreignSeat: number) {
  const raw = [
    '{"seatIds": [1,',
    '{"seatIds": [1]}garbage',
    'not json',
    '[]',
    'null',
    '"string"',
    '123',
    nested(5000),
    `{"a":${nested(200)}}`,
    '{"__proto__": {"admin": true}, "seatIds": "x"}',
    JSON.stringify({ pad: 'x'.repeat(17 * 1024) }),
  ];
  if (r.chance(0.3)) return { raw: r.pick(raw) };
  if (kind === 'hold') {
    const bad = [
      { seatIds: [] },
      { seatIds: [seatIds[0], seatIds[0]] },
      { seatIds: [987654321] },
      { seatIds: [foreignSeat] },
      { seatIds: seatIds.slice(0, 5) },
      { seatIds: [String(seatIds[0])] },
      { seatIds: [-seatIds[0]!] },
      { seatIds: [seatIds[0]! + 0.5] },
      { seatIds: 'all' },
      { seatIds: [2 ** 63] },
      {},
    ];
    return { body: r.pick(bad) };
  }
  if (kind === 'confirm') {
    const bad = [
      {},
      { payment: null },
      { payment: { method: 'card' } },
      { payment: { token: 'approve-x' } },
      { payment: { method: '', token: 'approve-x' } },
      { payment: { method: 'card', token: '' } },
      { payment: { method: 'card', token: 'approve-' + 'x'.repeat(300) } },
      { payment: { method: 'x'.repeat(40), token: 'approve-x' } },
      { payment: { method: 5, token: 'approve-x' } },
      { payment: 'card' },
    ];
    return { body: r.pick(bad) };
  }
  return { body: value(r) };
}

type Req = {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Whether this request may legitimately be refused as a client error only. */
  label: string;
};

test('when thousands of random and malformed requests hit every endpoint, then none is a 5xx and the sale is unchanged', async (t) => {
  t.timeout(120_000);
  t.log(`FUZZ_SEED=${SEED} FUZZ_REQUESTS=${REQUESTS}`);
  const r = prng(SEED);
  const { performanceId, seatIds } = await stack.performance(10, 1);
  const other = await stack.performance(2);
  const [holder, outsider] = (await stack.members(2)) as [TestMember, TestMember];
  await stack.admit(holder.token, performanceId);
  const h = await stack.http<{ requestId: number }>('POST', `/api/performances/${performanceId}/holds`, {
    token: holder.token,
    body: { seatIds: [seatIds[0], seatIds[1]] },
  });
  const held = (await stack.settle(holder.token, h.body.requestId)) as { hold: { id: number } };
  const holdId = held.hold.id;
  const admin = await stack.admin();
  // Other test files share the database: what the fuzz could create carries this name.
  const fuzzName = `fuzz ${stack.config.keyPrefix}`;
  const secret = new TextEncoder().encode(stack.config.jwtSecret);
  const sign = (claims: Record<string, unknown>, sub: string, exp: number, key = secret, alg = 'HS256') =>
    new SignJWT(claims).setProtectedHeader({ alg }).setSubject(sub).setExpirationTime(exp).sign(key);
  const now = Math.floor(Date.now() / 1000);
  const [sigHead, sigBody, sig] = holder.token.split('.') as [string, string, string];
  const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${sigBody}.`;
  // Tokens that must be refused, or accepted only for who they name.
  const badTokens: Record<string, string> = {
    expired: await sign({ role: 'USER' }, String(holder.id), now - 60),
    'forged ADMIN (another secret)': await sign(
      { role: 'ADMIN' },
      String(holder.id),
      now + 600,
      new TextEncoder().encode('a-different-deployment-secret-0123456789'),
    ),
    'foreign (no such member)': await sign({ role: 'USER' }, '987654321', now + 600),
    'HS512 with the right secret': await sign(
      { role: 'ADMIN' },
      String(holder.id),
      now + 600,
      secret,
      'HS512',
    ),
    'alg none': unsigned,
    'role missing': await sign({}, String(holder.id), now + 600),
    'role GOD': await sign({ role: 'GOD' }, String(holder.id), now + 600),
    'sub not a number': await sign({ role: 'USER' }, 'abc', now + 600),
    'sub zero-padded': await sign({ role: 'USER' }, `0${holder.id}`, now + 600),
    'respelled signature': `${sigHead}.${sigBody}.${sig.slice(0, 5)} ${sig.slice(5)}`,
    padded: `${holder.token}==`,
    garbage: 'not-a-token',
    empty: '',
    long: `${sigHead}.${'A'.repeat(20_000)}.${sig}`,
  };
  const authHeaders = (kind: 'holder' | 'outsider' | 'admin' | 'bad' | 'none'): Record<string, string> => {
    if (kind === 'none') return {};
    if (kind === 'bad') {
      const [name, token] = r.pick(Object.entries(badTokens));
      return r.chance(0.1)
        ? { authorization: r.pick([`Basic ${token}`, token, `bearer ${token}`, `Bearer  ${token}`]) }
        : { authorization: `Bearer ${token}`, 'x-token-kind': name };
    }
    const token = kind === 'holder' ? holder.token : kind === 'outsider' ? outsider.token : admin;
    return { authorization: `Bearer ${token}` };
  };
  const ids = () =>
    r.pick([
      String(performanceId),
      String(other.performanceId),
      '0',
      '-1',
      '1.5',
      'abc',
      '9999999999999999',
      '99999999999999999999',
      '%00',
      '%2e%2e',
      String(holdId),
      String(h.body.requestId),
      '1e3',
      ' 1',
      encodeURIComponent('💺'),
    ]);

  function generate(): Req {
    const who = r.pick(['holder', 'outsider', 'admin', 'bad', 'bad', 'none'] as const);
    const headers: Record<string, string> = { ...authHeaders(who) };
    if (r.chance(0.2))
      headers['idempotency-key'] = r.pick(['k', 'K', 'x'.repeat(200), 'key with space', 'cl\u00e9']);
    if (r.chance(0.1)) headers['prefer'] = r.pick(['wait=10', 'wait=0', 'wait=-1', 'wait=99999', 'wait']);
    if (r.chance(0.1)) headers['last-event-id'] = r.pick(['0', '-1', 'x', '99999999999999999', '1']);
    const json = (b: { raw?: string; body?: unknown }) => {
      headers['content-type'] = r.chance(0.9)
        ? 'application/json'
        : r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/merge-patch+json']);
      return b.raw ?? JSON.stringify(b.body);
    };
    const pid = ids();
    const kind = r.int(16);
    const label = `${who}:${headers['x-token-kind'] ?? ''}`;
    switch (kind) {
      case 0:
        return { method: 'POST', path: '/api/members', headers, body: json({ body: value(r) }), label };
      case 1: {
        const bodies = [
          { email: r.pick(WEIRD_STRINGS), password: r.pick(WEIRD_STRINGS) },
          value(r),
          { email: 'nobody@example.com', password: 'x' },
        ];
        // Wrong passwords cost a scrypt each: a few, not thousands.
        const body = r.chance(0.05) ? bodies[2] : r.pick(bodies.slice(0, 2));
        return { method: 'POST', path: '/api/login', headers, body: json({ body }), label };
      }
      case 2: {
        const base = performanceBody(2, { name: fuzzName });
        const broken = r.pick([
          { ...base, showtime: '9999-12-31T23:00:00-05:00' },
          { ...base, showtime: r.pick(WEIRD_STRINGS) },
          { ...base, grades: [...base.grades, { name: 'vip', price: 1 }] },
          { ...base, grades: [{ name: 'VIP', price: -1 }] },
          { ...base, admissionCapacity: r.pick(WEIRD_NUMBERS) },
          { ...base, zones: [] },
          { ...base, name: r.pick([5, null, '', ' ', 'x'.repeat(300), []]) },
          value(r),
        ]);
        return {
          method: 'POST',
          path: '/api/performances',
          headers,
          body: json(r.chance(0.2) ? invalidBody(r, 'any', seatIds, other.seatIds[0]!) : { body: broken }),
          label,
        };
      }
      case 3:
        return {
          method: 'GET',
          path: r.pick(['/api/performances', `/api/performances/${pid}`]),
          headers,
          label,
        };
      case 4:
        // The holder keeps the only slot (capacity 1), so nobody else is ever admitted to hold.
        return {
          method: r.pick(who === 'holder' ? ['POST', 'GET'] : ['POST', 'GET', 'DELETE']),
          path: `/api/performances/${pid}/waiting`,
          headers,
          label,
        };
      case 5:
        return {
          method: 'GET',
          path: `/api/performances/${pid}/seats${r.pick(['', '?zone=1', '?zone=abc'])}`,
          headers,
          label,
        };
      case 6: {
        const q = r.pick([
          '',
          '?lastEventId=0',
          '?lastEventId=abc',
          `?access_token=${r.pick(Object.values(badTokens))}`,
        ]);
        return { method: 'GET', path: `/api/performances/${pid}/seats/events${q}`, headers, label };
      }
      case 7:
      case 8: {
        // The holder's own valid token only ever carries a hold that cannot be valid: a seat is
        // foreign to the performance the request names (the other one's seat is valid there).
        const foreign = pid === String(other.performanceId) ? seatIds[0]! : other.seatIds[0]!;
        const b = invalidBody(r, 'hold', seatIds, foreign);
        const body = who === 'holder' || r.chance(0.7) ? b : { body: { seatIds: [seatIds[5]] } };
        return { method: 'POST', path: `/api/performances/${pid}/holds`, headers, body: json(body), label };
      }
      case 9: {
        const b = invalidBody(r, 'confirm', seatIds, other.seatIds[0]!);
        const body =
          who === 'holder' || r.chance(0.5)
            ? b
            : { body: { payment: { method: 'card', token: 'approve-fuzz' } } };
        return { method: 'POST', path: `/api/holds/${ids()}/confirm`, headers, body: json(body), label };
      }
      case 10: {
        // Releasing is valid for the holder's own hold whatever the body: never with the holder's token.
        const hid = who === 'holder' ? r.pick(['0', 'abc', '987654321', '-1']) : ids();
        return { method: 'DELETE', path: `/api/holds/${hid}`, headers, label };
      }
      case 11:
        return {
          method: 'GET',
          path: `/api/requests/${ids()}${r.pick(['', '?waitSeconds=0', '?waitSeconds=-1', '?waitSeconds=11', '?waitSeconds=abc', '?waitSeconds=1e1'])}`,
          headers,
          label,
        };
      case 12:
        return { method: 'GET', path: r.pick(['/api/me/holds', '/api/me/tickets']), headers, label };
      case 13: {
        const basic = Buffer.from(
          r.pick([
            `${stack.config.adminEmail}:wrong-password`,
            `${stack.config.adminEmail}:`,
            ':',
            'no-colon',
            `${stack.config.adminEmail.toUpperCase()}:${stack.config.adminPassword}x`,
          ]),
        ).toString('base64');
        if (who !== 'admin' && r.chance(0.5)) headers['authorization'] = `Basic ${basic}`;
        const read = r.pick(['/admin/queues', '/admin/queues/api/queues', '/admin/queues/api/redis/stats']);
        const write = r.pick([
          `/admin/queues/api/queues/${encodeURIComponent(`{perf-${performanceId}}`)}/pause`,
          `/admin/queues/api/queues/${encodeURIComponent(`{perf-${performanceId}}`)}/clean/completed`,
          `/admin/queues/api/queues/${encodeURIComponent(`{perf-${performanceId}}`)}/empty`,
        ]);
        // A valid admin may read the board; writes are tried only with credentials that must fail.
        return who === 'admin'
          ? { method: 'GET', path: read, headers, label }
          : { method: r.pick(['PUT', 'DELETE', 'POST']), path: write, headers, label };
      }
      case 14:
        return {
          // (DELETE of the holder's own hold with its own token is a valid release: never that.)
          method: r.pick([
            'GET',
            'POST',
            'PUT',
            'PATCH',
            'OPTIONS',
            'HEAD',
            ...(who === 'holder' ? [] : ['DELETE']),
          ]),
          path: r.pick([
            '/api/nothing',
            '/api/performances/1/holds/2/3',
            '/%2e%2e/%2e%2e/etc/passwd',
            '/..%2f..%2fpackage.json',
            '/api/%ZZ',
            '/index.html',
            '/healthz',
            '/readyz',
            '/api/performances/%',
            `/api/performances/${pid}`,
            `/api/holds/${ids()}`,
          ]),
          headers,
          label,
        };
      default:
        return {
          method: r.pick(['PUT', 'PATCH', 'POST']),
          path: r.pick([
            '/api/performances',
            `/api/performances/${pid}`,
            `/api/performances/${pid}/seats`,
            '/api/login',
          ]),
          headers,
          body: json(invalidBody(r, 'any', seatIds, other.seatIds[0]!)),
          label,
        };
    }
  }

  const snapshot = async () => {
    const q = <T extends object>(sql: string, replacements: unknown[]) =>
      stack.ctx.sequelize.query<T>(sql, { type: QueryTypes.SELECT, replacements });
    return {
      seats: await q('SELECT id, status, hold_id FROM seats WHERE performance_id IN (?) ORDER BY id', [
        [performanceId, other.performanceId],
      ]),
      holds: await q('SELECT id, status, member_id FROM holds WHERE performance_id IN (?) ORDER BY id', [
        [performanceId, other.performanceId],
      ]),
      requests: await q(
        'SELECT id, status, kind FROM hold_requests WHERE performance_id IN (?) OR member_id IN (?) ORDER BY id',
        [
          [performanceId, other.performanceId],
          [holder.id, outsider.id],
        ],
      ),
      payments: await q('SELECT COUNT(*) AS n FROM payments WHERE hold_id = ?', [holdId]),
      performances: await q('SELECT COUNT(*) AS n FROM performances WHERE name = ?', [fuzzName]),
    };
  };
  await eventually(
    async () =>
      (await (await stack.ctx.queues.get(performanceId)).getJobCounts('active', 'waiting')).waiting === 0,
  );
  const before = await snapshot();

  const failures: string[] = [];
  // Anything the service accepted to change, named when the sale turns out changed.
  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  let sent = 0;
  const started = Date.now();
  const worker = async () => {
    while (sent < REQUESTS) {
      sent++;
      const req = generate();
      const ctrl = new AbortController();
      const timer = setTimeout(() => ctrl.abort(), 15_000);
      try {
        const res = await fetch(`${stack.url}${req.path}`, {
          method: req.method,
          headers: req.headers,
          ...(req.body !== undefined && req.method !== 'GET' && req.method !== 'HEAD'
            ? { body: req.body }
            : {}),
          signal: ctrl.signal,
        });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 202)
          accepted.push(`${req.method} ${req.path} [${req.label}] ${(req.body ?? '').slice(0, 200)}`);
        let text: string | undefined;
        if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) await res.body?.cancel();
        else text = await res.text();
        // Every answer, to the strangest request, is one the OpenAPI document describes.
        const mismatch = disagreement({
          method: req.method,
          url: req.path,
          status: res.status,
          headers: res.headers,
          text,
        });
        if (mismatch) failures.push(`${mismatch} [${req.label}] ${(req.body ?? '').slice(0, 200)}`);
        if (res.status >= 500)
          failures.push(
            `${res.status} ${req.method} ${req.path} [${req.label}] ${(req.body ?? '').slice(0, 200)}`,
          );
      } catch (err) {
        failures.push(`no answer ${req.method} ${req.path} [${req.label}]: ${String(err)}`);
      } finally {
        clearTimeout(timer);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  t.log(
    `${sent} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(statuses))}`,
  );
  t.deepEqual(failures.slice(0, 20), [], `${failures.length} requests failed`);
  // Anything wrongly accepted would be applied by the worker within moments: give it the time.
  await eventually(
    async () =>
      (await (await stack.ctx.queues.get(performanceId)).getJobCounts('active', 'waiting')).waiting === 0,
  );
  t.deepEqual(
    await snapshot(),
    before,
    `seats, holds, requests and payments are unchanged (accepted: ${accepted.join('; ') || 'none'})`,
  );
  t.true((statuses.get(200) ?? 0) > 0 && [...statuses.keys()].some((s) => s >= 400), 'a mix of answers');
});
