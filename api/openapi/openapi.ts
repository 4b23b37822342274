import { z } from 'zod';
import { createPerformanceSchema } from '../../shared/catalogue/catalogue.service.js';
import { idempotencyKeySchema } from '../../shared/holds/requests.service.js';
import { saleControlsSchema } from '../../shared/sales/sale-controls.service.js';
import { credentials, loginBody } from '../routes/identity.routes.js';
import { confirmBody, holdBody, waitQuery } from '../routes/holds.routes.js';
import { lastEventId, seatsQuery } from '../routes/performances.routes.js';
import { lineWaitQuery } from '../routes/waiting.routes.js';
import { afterQuery } from '../routes/fairness.routes.js';
import { idParam } from '../routes/params.js';

// The OpenAPI 3.1 document (contract §5), built from the zod schemas the routes validate requests
// with: a change of a request schema changes the document. Responses are described here in zod too.

type Auth = 'public' | 'member' | 'admitted' | 'admin' | 'admin-basic';
type Route = {
  method: 'get' | 'post' | 'patch' | 'delete';
  path: string;
  tag: string;
  summary: string;
  auth: Auth;
  body?: z.ZodType;
  query?: z.ZodObject;
  headers?: Record<string, { schema: z.ZodType; description: string }>;
  /** status -> description and body (JSON unless `type` says otherwise) */
  ok: Record<number, { description: string; schema?: z.ZodType; type?: string }>;
  /** Problem codes this route answers besides the ones every route may answer. */
  problems: string[];
};

/** Every problem code the API answers, with its status and meaning. */
export const PROBLEM_CODES: Record<string, { status: number; description: string }> = {
  'validation-failed': { status: 400, description: 'A field is invalid; `errors` names each one.' },
  'malformed-json': { status: 400, description: 'The body is not valid JSON.' },
  'bad-request': { status: 400, description: 'The request could not be read.' },
  unauthenticated: { status: 401, description: 'Missing, bad or expired bearer token.' },
  'invalid-credentials': { status: 401, description: 'The email or password is wrong.' },
  'payment-declined': { status: 402, description: 'The payment gateway declined; nothing was enqueued.' },
  forbidden: { status: 403, description: 'The role may not do this (ADMIN only).' },
  'not-admitted': { status: 403, description: 'The member is not admitted from the waiting room.' },
  'not-found': { status: 404, description: 'No route for this path.' },
  'method-not-allowed': {
    status: 405,
    description: 'The path does not take this method; `Allow` lists the ones it takes.',
  },
  'performance-not-found': { status: 404, description: 'No such performance.' },
  'zone-not-found': { status: 404, description: 'The performance has no such zone.' },
  'not-in-line': { status: 404, description: 'The member is not in this waiting room.' },
  'hold-not-found': { status: 404, description: "No such hold of the member's." },
  'request-not-found': { status: 404, description: "No such request of the member's." },
  'email-taken': { status: 409, description: 'That email is already registered.' },
  'sale-open': { status: 409, description: 'The queue mode and the draw are fixed once the sale opened.' },
  'idempotency-key-reused': {
    status: 409,
    description: 'This Idempotency-Key is in flight, or was used for a different request.',
  },
  'hold-not-held': {
    status: 409,
    description: 'The hold is released, expired or confirmed; nothing was paid.',
  },
  'payload-too-large': { status: 413, description: 'The body is over the limit (16 KiB).' },
  'unsupported-media-type': { status: 415, description: 'A body that is not UTF-8 `application/json`.' },
  'rate-limited': { status: 429, description: 'Too many requests; see `Retry-After`.' },
  internal: { status: 500, description: 'Something went wrong on our side.' },
  unavailable: { status: 503, description: 'MySQL or Redis unreachable; see `Retry-After`.' },
};

/** Codes any route may answer (405 for a method of the path that this operation is not). */
const EVERYWHERE = ['not-found', 'method-not-allowed', 'rate-limited', 'internal', 'unavailable'];
/** Codes any route under /api may answer: a body, where one is sent, is JSON with known fields only. */
const WITH_BODY = [
  'validation-failed',
  'malformed-json',
  'bad-request',
  'payload-too-large',
  'unsupported-media-type',
];
const AUTH_PROBLEMS: Record<Auth, string[]> = {
  public: [],
  member: ['unauthenticated'],
  admitted: ['unauthenticated', 'not-admitted'],
  admin: ['unauthenticated', 'forbidden'],
  'admin-basic': ['unauthenticated', 'forbidden'],
};

const iso = z.iso.datetime();
const waitingStatus = z.object({
  status: z.enum(['waiting', 'admitted', 'sold-out']),
  ticket: z.number().int(),
  position: z
    .number()
    .int()
    .optional()
    .describe('1 for the next member to be admitted, 0 once admitted; absent in a shuffle-at-open pre-queue'),
  etaSeconds: z.number().int(),
  nextPollSeconds: z
    .number()
    .int()
    .min(0)
    .max(60)
    .describe(
      'When to ask again (also the Retry-After header). 0: near the front, ask again at once with waitSeconds to be told the moment you are admitted',
    ),
  admittedUntil: iso.optional(),
  opensAt: iso.optional().describe('When the sale opens, while it has not yet'),
  drawAt: iso.optional().describe('In a shuffle-at-open pre-queue: when places are drawn (the opening)'),
});
const hex = z.string().regex(/^[0-9a-f]{64}$/);
const logEntry = z.object({
  n: z.number().int().describe('1-based place in the chain'),
  epoch: z.string().describe("The room's generation: a new one starts after the live line was lost"),
  ticket: z.number().int(),
  memberHash: hex.describe('HMAC-SHA256(per-performance salt, member id)'),
  at: iso,
  trigger: z.enum(['join', 'leave', 'ticker', 'draw']),
  capacity: z.number().int().describe('The capacity in force'),
  occupancy: z.number().int().describe('Members admitted at once right after this admission'),
  perMinute: z.number().int().describe('The outflow cap in force (0: none)'),
  prev: hex,
  hash: hex.describe('SHA-256 of n|prev|epoch|ticket|memberHash|at|trigger|capacity|occupancy|perMinute'),
});
const fairnessDoc = z.object({
  queueMode: z.enum(['fifo', 'shuffle-at-open']),
  commitment: hex.describe("SHA-256 of the draw's secret seed, published before opening"),
  drawAt: iso.optional(),
  outsideRandomness: z
    .string()
    .nullable()
    .describe('Public randomness the operator named, mixed into the draw'),
  seed: hex.optional().describe('Revealed once the draw is applied'),
  rosterRoot: hex.optional().describe('Merkle root of the pre-queue, in arrival order'),
  rosterSize: z.number().int().optional(),
  ticketBase: z.number().int().optional().describe('Drawn place i gets ticket ticketBase + i'),
  epoch: z.string().optional().describe('The log epoch in which the draw was admitted'),
  revealedAt: iso.optional(),
  log: z.object({ length: z.number().int(), head: hex }),
  rules: z.record(z.string(), z.string()).describe('The published rules, in words'),
});
const merkleStep = z.object({ side: z.enum(['left', 'right']), hash: hex });
const receipt = z.object({
  performanceId: z.number().int(),
  memberHash: hex,
  commitment: hex,
  rosterRoot: hex.optional(),
  draw: z
    .object({
      arrival: z.number().int(),
      place: z.number().int(),
      ticket: z.number().int(),
      proof: z.array(merkleStep),
    })
    .optional()
    .describe('In a shuffle-at-open pre-queue: the drawn place and the Merkle proof of membership'),
  ticket: z.number().int().optional(),
  admission: logEntry.optional().describe("The member's admission entry in the log"),
});
const hold = z.object({
  id: z.number().int(),
  performanceId: z.number().int(),
  seatIds: z.array(z.number().int()),
  status: z.enum(['held', 'confirmed', 'released', 'expired']),
  expiresAt: iso,
});
const requestView = z.object({
  requestId: z.number().int(),
  kind: z.enum(['hold', 'confirm', 'release']),
  status: z.enum(['queued', 'processing', 'succeeded', 'rejected']),
  position: z.number().int().optional(),
  hold: hold.optional(),
  tickets: z.array(z.object({ serial: z.string(), seatId: z.number().int() })).optional(),
  reason: z
    .enum(['seat-unavailable', 'no-seats-together', 'limit-exceeded', 'hold-expired', 'hold-not-found'])
    .optional(),
});
const controls = z.object({
  salesOpenAt: iso.nullable(),
  admissionCapacity: z.number().int(),
  admissionPaused: z.boolean(),
  holdsPaused: z.boolean(),
  queueMode: z.enum(['fifo', 'shuffle-at-open']),
  admissionsPerMinute: z.number().int().nullable(),
});
const count = z.number().int().min(0);
const performance = z.object({
  id: z.number().int(),
  name: z.string(),
  place: z.string(),
  showtime: iso,
  salesOpenAt: iso.nullable(),
  admissionCapacity: z.number().int(),
  maxSeatsPerMember: z.number().int(),
  currency: z.string().describe('ISO 4217 code of every price'),
  seatCount: count,
  availableCount: count.describe('May lag a commit by up to a second'),
  heldCount: count.describe('May lag a commit by up to a second'),
  soldCount: count.describe('May lag a commit by up to a second'),
  soldOut: z.boolean().describe('Every seat is sold'),
  grades: z.array(z.object({ id: z.number().int(), name: z.string(), price: z.number() })),
  zones: z.array(
    z.object({ id: z.number().int(), name: z.string(), seatCount: count, availableCount: count }),
  ),
});
const liveState = z.object({
  id: z.number().int(),
  name: z.string(),
  at: iso,
  line: z.object({ waiting: z.number().int(), admitted: z.number().int() }),
  holds: z.record(z.string(), z.number().int()).describe('holds by status'),
  seats: z.record(z.string(), z.number().int()).describe('seats by status'),
  queue: z.object({
    waiting: z.number().int(),
    oldestWaitingSeconds: z.number(),
    paused: z.boolean(),
  }),
  lastMinute: z.object({ admissions: z.number().int(), commits: z.number().int(), sales: z.number().int() }),
  controls,
  admissionOpen: z.boolean(),
});
const accepted = z.object({ requestId: z.number().int() });
const idempotency = {
  'Idempotency-Key': {
    schema: idempotencyKeySchema,
    description: 'The same key from the same member returns the same request and enqueues nothing more.',
  },
  Prefer: {
    schema: z.string(),
    description: '`wait=N` (N ≤ 10): answer 200 with the final request if it is final within N seconds.',
  },
};
const queued = {
  202: { description: 'Accepted and enqueued; poll `Location`.', schema: accepted },
  200: { description: 'Final within the preferred wait (`Prefer: wait=N`).', schema: requestView },
};

const routes: Route[] = [
  {
    method: 'get',
    path: '/healthz',
    tag: 'operations',
    summary: 'The process is alive',
    auth: 'public',
    ok: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
    problems: [],
  },
  {
    method: 'get',
    path: '/readyz',
    tag: 'operations',
    summary: 'MySQL and Redis are reachable',
    auth: 'public',
    ok: {
      200: {
        description: 'Ready',
        schema: z.object({ status: z.string(), mysql: z.string(), redis: z.string() }),
      },
      503: {
        description: 'Not ready',
        schema: z.object({ status: z.string(), mysql: z.string(), redis: z.string() }),
      },
    },
    problems: [],
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    tag: 'operations',
    summary: 'This document',
    auth: 'public',
    ok: { 200: { description: 'OpenAPI 3.1', schema: z.object({ openapi: z.string() }).loose() } },
    problems: [],
  },
  {
    method: 'get',
    path: '/docs',
    tag: 'operations',
    summary: 'This document, rendered',
    auth: 'public',
    ok: { 200: { description: 'HTML', type: 'text/html', schema: z.string() } },
    problems: [],
  },

  {
    method: 'post',
    path: '/api/members',
    tag: 'identity',
    summary: 'Sign up',
    auth: 'public',
    body: credentials,
    ok: { 201: { description: 'Created', schema: z.object({ memberId: z.number().int() }) } },
    problems: ['email-taken'],
  },
  {
    method: 'post',
    path: '/api/login',
    tag: 'identity',
    summary: 'Log in',
    auth: 'public',
    body: loginBody,
    ok: {
      200: {
        description: 'A bearer token',
        schema: z.object({
          memberId: z.number().int(),
          accessToken: z.string(),
          expiresIn: z.number().int(),
        }),
      },
    },
    problems: ['invalid-credentials'],
  },

  {
    method: 'post',
    path: '/api/performances',
    tag: 'catalogue',
    summary: 'Create a performance from its layout',
    auth: 'admin',
    body: createPerformanceSchema,
    ok: { 201: { description: 'Created', schema: z.object({ id: z.number().int() }) } },
    problems: [],
  },
  {
    method: 'get',
    path: '/api/performances',
    tag: 'catalogue',
    summary: 'Performances',
    auth: 'public',
    ok: {
      200: {
        description: 'The list',
        schema: z.object({
          items: z.array(
            z.object({
              id: z.number().int(),
              name: z.string(),
              place: z.string(),
              showtime: iso,
              salesOpenAt: iso.nullable(),
              seatCount: count,
              availableCount: count,
              soldOut: z.boolean(),
              currency: z.string(),
            }),
          ),
        }),
      },
    },
    problems: [],
  },
  {
    method: 'get',
    path: '/api/performances/{id}',
    tag: 'catalogue',
    summary: 'A performance',
    auth: 'public',
    ok: { 200: { description: 'The performance', schema: performance } },
    problems: ['performance-not-found'],
  },
  {
    method: 'patch',
    path: '/api/performances/{id}',
    tag: 'sale controls',
    summary: 'Change the sale controls',
    auth: 'admin',
    body: saleControlsSchema,
    ok: {
      200: { description: 'The performance with its controls', schema: performance.extend(controls.shape) },
    },
    problems: ['performance-not-found', 'sale-open'],
  },
  {
    method: 'get',
    path: '/api/admin/performances/{id}',
    tag: 'sale controls',
    summary: "The sale's live state",
    auth: 'admin',
    ok: { 200: { description: 'Live state', schema: liveState } },
    problems: ['performance-not-found'],
  },
  {
    method: 'post',
    path: '/api/admin/queue-board/session',
    tag: 'sale controls',
    summary:
      'Open the queue board (/admin/queues) with this session: sets a 15-minute HttpOnly, SameSite=Strict cookie for /admin',
    auth: 'admin',
    ok: { 204: { description: 'The cookie is set' } },
    problems: [],
  },

  {
    method: 'post',
    path: '/api/performances/{id}/waiting',
    tag: 'waiting room',
    summary: 'Join the line (idempotent)',
    auth: 'member',
    ok: { 200: { description: 'Where the member stands', schema: waitingStatus } },
    problems: ['performance-not-found'],
  },
  {
    method: 'get',
    path: '/api/performances/{id}/waiting',
    tag: 'waiting room',
    summary:
      'Where the member stands; with waitSeconds, answers when admitted or sold out (or the time is up)',
    auth: 'member',
    query: lineWaitQuery,
    ok: { 200: { description: 'Where the member stands', schema: waitingStatus } },
    problems: ['performance-not-found', 'not-in-line'],
  },
  {
    method: 'get',
    path: '/api/performances/{id}/waiting/receipt',
    tag: 'waiting room',
    summary: "The member's receipt: its drawn place with a Merkle proof, and its admission entry",
    auth: 'member',
    ok: {
      200: { description: 'Check it with `npm run verify -- fairness --receipt FILE`', schema: receipt },
    },
    problems: ['performance-not-found'],
  },
  {
    method: 'get',
    path: '/api/performances/{id}/fairness',
    tag: 'waiting room',
    summary: 'The draw (commitment, seed once revealed, roster root) and the admission log head',
    auth: 'public',
    ok: { 200: { description: 'What anyone can check', schema: fairnessDoc } },
    problems: ['performance-not-found'],
  },
  {
    method: 'get',
    path: '/api/performances/{id}/fairness/log',
    tag: 'waiting room',
    summary: 'The admission log, 1,000 entries a page, after entry `after`',
    auth: 'public',
    query: afterQuery,
    ok: {
      200: {
        description: '`next` is the `after` of the next page, while there is one',
        schema: z.object({ items: z.array(logEntry), next: z.number().int().optional() }),
      },
    },
    problems: ['performance-not-found'],
  },
  {
    method: 'get',
    path: '/api/performances/{id}/fairness/roster',
    tag: 'waiting room',
    summary: "The drawn pre-queue's member hashes in arrival order (once revealed), 10,000 a page",
    auth: 'public',
    query: afterQuery,
    ok: {
      200: {
        description: '`next` is the `after` of the next page, while there is one',
        schema: z.object({ items: z.array(hex), next: z.number().int().optional() }),
      },
    },
    problems: ['performance-not-found'],
  },
  {
    method: 'delete',
    path: '/api/performances/{id}/waiting',
    tag: 'waiting room',
    summary: 'Leave the line or give up the admission',
    auth: 'member',
    ok: { 204: { description: 'Left' } },
    problems: ['performance-not-found'],
  },

  {
    method: 'get',
    path: '/api/performances/{id}/seats',
    tag: 'seats',
    summary: 'The seat map, or one zone of it (answers are compressed when the client accepts it)',
    auth: 'admitted',
    query: seatsQuery,
    ok: {
      200: {
        description: 'Seats and the event sequence they reflect',
        schema: z.object({
          items: z.array(
            z.object({
              id: z.number().int(),
              code: z.string(),
              zone: z.string(),
              row: z.string().optional(),
              number: z.number().int().optional(),
              grade: z.string(),
              price: z.number(),
              status: z.enum(['available', 'held', 'sold']),
            }),
          ),
          lastEventId: z.number().int(),
        }),
      },
    },
    problems: ['performance-not-found', 'zone-not-found', 'validation-failed'],
  },
  {
    method: 'get',
    path: '/api/performances/{id}/seats/events',
    tag: 'seats',
    summary: 'Seat changes as server-sent events, in commit order',
    auth: 'member',
    headers: { 'Last-Event-ID': { schema: lastEventId, description: 'Replay from after this event' } },
    ok: {
      200: {
        description: '`event: seat`, `id: <sequence>`, `data: {"seatId","status"}`',
        type: 'text/event-stream',
        schema: z.string(),
      },
    },
    problems: ['performance-not-found', 'validation-failed'],
  },

  {
    method: 'post',
    path: '/api/performances/{id}/holds',
    tag: 'holds',
    summary: 'Ask to hold seats (queued)',
    auth: 'admitted',
    body: holdBody,
    headers: idempotency,
    ok: {
      ...queued,
      202: {
        description: 'Accepted and enqueued; poll `Location`.',
        schema: z.object({
          requestId: z.number().int(),
          status: z
            .enum(['queued', 'processing', 'succeeded', 'rejected'])
            .describe('queued for a new request; a repeat with its Idempotency-Key: where it stands'),
          position: z.number().int().optional().describe('While queued'),
        }),
      },
    },
    problems: ['performance-not-found', 'idempotency-key-reused'],
  },
  {
    method: 'post',
    path: '/api/holds/{holdId}/confirm',
    tag: 'holds',
    summary: 'Pay and confirm a hold (queued)',
    auth: 'admitted',
    body: confirmBody,
    headers: idempotency,
    ok: queued,
    problems: ['hold-not-found', 'hold-not-held', 'payment-declined', 'idempotency-key-reused'],
  },
  {
    method: 'delete',
    path: '/api/holds/{holdId}',
    tag: 'holds',
    summary: 'Release a hold (queued)',
    auth: 'member',
    headers: idempotency,
    ok: queued,
    problems: ['hold-not-found', 'idempotency-key-reused', 'validation-failed'],
  },
  {
    method: 'get',
    path: '/api/requests/{requestId}',
    tag: 'holds',
    summary: 'A request and where it stands',
    auth: 'member',
    query: waitQuery,
    ok: { 200: { description: 'The request', schema: requestView } },
    problems: ['request-not-found', 'validation-failed'],
  },
  {
    method: 'get',
    path: '/api/me/holds',
    tag: 'holds',
    summary: "The member's holds",
    auth: 'member',
    ok: { 200: { description: 'Holds', schema: z.object({ items: z.array(hold) }) } },
    problems: [],
  },
  {
    method: 'get',
    path: '/api/me/tickets',
    tag: 'holds',
    summary: "The member's tickets",
    auth: 'member',
    ok: {
      200: {
        description: 'Tickets',
        schema: z.object({
          items: z.array(
            z.object({
              serial: z.string(),
              seatId: z.number().int(),
              performanceId: z.number().int(),
              seatCode: z.string(),
              zone: z.string().describe("The seat's zone (a seat code means little without it)"),
              price: z.number(),
            }),
          ),
        }),
      },
    },
    problems: [],
  },
];

/** bull-board, mounted: one entry documents the UI (its inner API is bull-board's own). */
const uiMounts = ['/admin/queues'];

type JsonSchema = Record<string, unknown>;

function schemaOf(s: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out = z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete out['$schema'];
  return out;
}

function problemResponses(codes: string[]): Record<string, unknown> {
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const p = PROBLEM_CODES[code];
    if (!p) throw new Error(`unknown problem code ${code}`);
    byStatus.set(p.status, [...(byStatus.get(p.status) ?? []), code]);
  }
  const out: Record<string, unknown> = {};
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0]))
    out[String(status)] = {
      description: list.map((c) => `\`${c}\`: ${PROBLEM_CODES[c]!.description}`).join(' '),
      content: {
        'application/problem+json': {
          schema: {
            allOf: [{ $ref: '#/components/schemas/Problem' }, { properties: { code: { enum: list } } }],
          },
        },
      },
    };
  return out;
}

function operation(r: Route): Record<string, unknown> {
  const parameters: unknown[] = [];
  for (const m of r.path.matchAll(/\{(\w+)\}/g))
    parameters.push({ name: m[1], in: 'path', required: true, schema: schemaOf(idParam, 'input') });
  if (r.query)
    for (const [name, s] of Object.entries(r.query.shape))
      parameters.push({ name, in: 'query', required: false, schema: schemaOf(s as z.ZodType, 'input') });
  for (const [name, h] of Object.entries(r.headers ?? {}))
    parameters.push({
      name,
      in: 'header',
      required: false,
      description: h.description,
      schema: schemaOf(h.schema, 'input'),
    });
  const codes = new Set([...AUTH_PROBLEMS[r.auth], ...r.problems, ...EVERYWHERE]);
  if (r.body || r.query || parameters.length) codes.add('validation-failed');
  if (r.body || r.path.startsWith('/api/')) WITH_BODY.forEach((c) => codes.add(c));
  const responses: Record<string, unknown> = {};
  for (const [status, res] of Object.entries(r.ok))
    responses[status] = {
      description: res.description,
      ...(res.schema
        ? { content: { [res.type ?? 'application/json']: { schema: schemaOf(res.schema, 'output') } } }
        : {}),
    };
  // A status the operation answers itself (as /readyz's 503) is not replaced by the problem shape.
  for (const [status, res] of Object.entries(problemResponses([...codes])))
    if (!(status in responses)) responses[status] = res;
  const security =
    r.auth === 'public'
      ? []
      : r.auth === 'admin-basic'
        ? [{ bearer: [] }, { adminBasic: [] }]
        : [{ bearer: [] }];
  return {
    operationId: `${r.method}${r.path.replace(/[^A-Za-z0-9]+(\w)?/g, (_, c?: string) => (c ?? '').toUpperCase())}`,
    tags: [r.tag],
    summary: r.summary,
    ...(r.auth === 'admin' || r.auth === 'admin-basic' ? { description: 'ADMIN only.' } : {}),
    ...(r.auth === 'admitted' ? { description: 'Only a member admitted from the waiting room.' } : {}),
    security,
    ...(parameters.length ? { parameters } : {}),
    ...(r.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: schemaOf(r.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

/** Every documented path with its methods and the methods that take a body (api/middlewares/doors.ts). */
export function documentedPaths(): { path: string; methods: string[]; bodies: string[] }[] {
  const out = new Map<string, { path: string; methods: string[]; bodies: string[] }>();
  for (const r of routes) {
    const p = out.get(r.path) ?? { path: r.path, methods: [], bodies: [] };
    p.methods.push(r.method.toUpperCase());
    if (r.body) p.bodies.push(r.method.toUpperCase());
    out.set(r.path, p);
  }
  return [...out.values()];
}

let built: Record<string, unknown> | undefined;

/** The OpenAPI 3.1 document of every endpoint (built once per process). */
export function openApiDocument(): Record<string, unknown> {
  if (built) return built;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method] = operation(r);
  for (const mount of uiMounts)
    paths[mount] = {
      get: operation({
        method: 'get',
        path: mount,
        tag: 'operations',
        summary: 'bull-board over every performance queue',
        auth: 'admin-basic',
        ok: { 200: { description: 'HTML', type: 'text/html', schema: z.string() } },
        problems: [],
      }),
    };
  built = {
    openapi: '3.1.0',
    info: {
      title: 'Ticketing API',
      version: '1',
      description:
        'A ticketing backend: a waiting room, seat holds committed in the order they were asked for, live seat status. Errors are `application/problem+json`.',
    },
    servers: [{ url: '/' }],
    tags: ['identity', 'catalogue', 'sale controls', 'waiting room', 'seats', 'holds', 'operations'].map(
      (name) => ({ name }),
    ),
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        adminBasic: { type: 'http', scheme: 'basic', description: 'ADMIN_EMAIL / ADMIN_PASSWORD' },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string', enum: Object.keys(PROBLEM_CODES) },
            traceId: {
              type: 'string',
              pattern: '^[0-9a-f]{32}$',
              description: 'The OpenTelemetry trace of this request; only while tracing is on.',
            },
            errors: {
              type: 'array',
              items: {
                type: 'object',
                properties: { path: { type: 'string' }, message: { type: 'string' } },
                required: ['path', 'message'],
              },
            },
          },
        },
      },
    },
  };
  return built;
}
