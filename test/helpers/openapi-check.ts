import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { createHash } from 'node:crypto';
import { openApiDocument } from '../../api/openapi/openapi.js';

// Every response a test receives is checked against the OpenAPI document the API serves at
// /api/openapi.json (the same builder): the status is one the operation declares, the content type
// one it declares for that status, and a JSON body validates against the declared schema. A
// mismatch fails the test that received the response, naming the operation, the status and the
// schema path, so the document cannot drift from the service unnoticed.

type Operation = { operationId: string; responses: Record<string, Response> };
type Response = { content?: Record<string, { schema?: unknown }> };
type Doc = { paths: Record<string, Record<string, Operation>> };

export type Received = {
  method: string;
  /** Path and query as sent. */
  url: string;
  status: number;
  headers: Headers;
  /** The body as text; undefined when the test did not read it (an event stream). */
  text: string | undefined;
};

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

// ajv-formats is CommonJS: its default export arrives wrapped or not, depending on the loader.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv2020) => void;

class Checker {
  private readonly doc = openApiDocument() as unknown as Doc;
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  private readonly routes: { re: RegExp; path: string }[];
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly valid = new Set<string>();

  constructor() {
    addFormats(this.ajv);
    this.ajv.addSchema(this.doc as object, 'openapi.json');
    this.routes = Object.keys(this.doc.paths).map((p) => ({
      path: p,
      re: new RegExp(`^${p.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}/?$`, 'i'),
    }));
  }

  /** The document's path template for a concrete path, if it has one. */
  template(path: string): string | undefined {
    return this.routes.find((r) => r.re.test(path))?.path;
  }

  /** What the document allows for this path: its methods, with HEAD for GET and OPTIONS. */
  allowed(template: string): string[] {
    const ops = Object.keys(this.doc.paths[template] ?? {}).filter((m) => METHODS.includes(m));
    const out = ops.map((m) => m.toUpperCase());
    if (ops.includes('get')) out.push('HEAD');
    return [...out, 'OPTIONS'].sort();
  }

  private validator(pointer: string): ValidateFunction {
    let v = this.compiled.get(pointer);
    if (!v) {
      v = this.ajv.compile({ $ref: `openapi.json#${pointer}` });
      this.compiled.set(pointer, v);
    }
    return v;
  }

  /** Undefined when the response agrees with the document; otherwise what disagrees. */
  check(r: Received): string | undefined {
    const url = new URL(r.url, 'http://x');
    const path = url.pathname;
    const method = r.method.toLowerCase();
    const type = (r.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const template = this.template(path);
    const where = `${r.method} ${path} → ${r.status}`;
    // Node's HTTP parser answers oversized headers itself, without a body, before the app sees them.
    if (r.status === 431 && !r.text) return undefined;
    // HEAD answers carry the GET's headers and no body.
    if (method === 'head') r = { ...r, text: undefined };
    if (!template) {
      // Static files, the docs' assets and bull-board's own API are not described; an unknown
      // route under /api is a not-found problem.
      if (!path.startsWith('/api/') && path !== '/api') return undefined;
      if (r.status !== 404 && r.status !== 429 && r.status !== 503)
        return `${where}: no operation in the document matches this path`;
      return this.problemBody(where, r, type, '/components/schemas/Problem');
    }
    if (method === 'options') {
      if (r.status !== 204 && r.status !== 200) return `${where}: OPTIONS answered ${r.status}`;
      return this.allowHeader(where, r, template);
    }
    const op = this.doc.paths[template]![method === 'head' ? 'get' : method];
    if (!op) {
      if (r.status === 429 || r.status === 503) return undefined; // before routing: limits, outages
      if (r.status !== 405) return `${where}: ${template} has no ${r.method}, so the answer must be 405`;
      return (
        this.allowHeader(where, r, template) ??
        this.problemBody(where, r, type, '/components/schemas/Problem')
      );
    }
    const name = `${op.operationId} (${r.method} ${template})`;
    const declared = op.responses[String(r.status)] ?? op.responses['default'];
    if (!declared)
      return `${name}: status ${r.status} is not declared (declared: ${Object.keys(op.responses).join(', ')}); body ${preview(r.text)}`;
    const statusKey = op.responses[String(r.status)] ? String(r.status) : 'default';
    const content = declared.content;
    if (!content) {
      if (r.text && method !== 'head')
        return `${name} → ${r.status}: the document declares no body, got ${type} ${preview(r.text)}`;
      return undefined;
    }
    if (!(type in content))
      return `${name} → ${r.status}: content type "${type}" is not declared (declared: ${Object.keys(content).join(', ')})`;
    if (method === 'head' || r.text === undefined || !type.endsWith('json')) return undefined;
    const pointer = `/paths/${escape(template)}/${method}/responses/${statusKey}/content/${escape(type)}/schema`;
    return this.validate(`${name} → ${r.status}`, r.text, pointer);
  }

  private allowHeader(where: string, r: Received, template: string): string | undefined {
    const allow = (r.headers.get('allow') ?? '')
      .split(',')
      .map((m) => m.trim().toUpperCase())
      .filter(Boolean)
      .sort();
    const expected = this.allowed(template);
    if (allow.join(',') !== expected.join(','))
      return `${where}: Allow "${allow.join(', ')}" differs from the document's ${template} (${expected.join(', ')})`;
    return undefined;
  }

  private problemBody(where: string, r: Received, type: string, pointer: string): string | undefined {
    if (type !== 'application/problem+json')
      return `${where}: expected application/problem+json, got "${type}"`;
    if (r.text === undefined) return undefined;
    return this.validate(where, r.text, pointer);
  }

  private validate(name: string, text: string, pointer: string): string | undefined {
    // Pollers get the same answer many times: each distinct body is validated once per schema
    // (a test's timing should not depend on the check; 50 identical lists cost one validation).
    const key = `${pointer} ${createHash('sha1').update(text).digest('base64')}`;
    if (this.valid.has(key)) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `${name}: the body is not JSON: ${preview(text)}`;
    }
    const v = this.validator(pointer);
    if (v(body)) {
      if (this.valid.size > 10_000) this.valid.clear();
      this.valid.add(key);
      return undefined;
    }
    return `${name}: the body does not match the document's schema (${pointer}): ${describe(v.errors ?? [], pointer)}; body ${preview(text)}`;
  }
}

function escape(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function preview(text: string | undefined): string {
  if (!text) return '(empty)';
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function describe(errors: ErrorObject[], pointer: string): string {
  return errors
    .slice(0, 5)
    .map((e) => {
      const extra =
        e.keyword === 'additionalProperties'
          ? ` "${String((e.params as { additionalProperty?: string }).additionalProperty)}"`
          : '';
      const schemaPath = e.schemaPath.replace(`openapi.json#${pointer}`, '#');
      return `at "${e.instancePath || '/'}" ${e.message ?? e.keyword}${extra} (schema ${schemaPath})`;
    })
    .join('; ');
}

let checker: Checker | undefined;

/** Builds the checker ahead of the first answer (Stack.start), so that no test's timing pays for it. */
export function prepareConformance(): void {
  checker ??= new Checker();
}

/** Undefined when the response agrees with /api/openapi.json; otherwise a message naming what disagrees. */
export function disagreement(r: Received): string | undefined {
  checker ??= new Checker();
  return checker.check(r);
}

/** Throws (failing the test that received it) when the response disagrees with the document. */
export function assertConforms(r: Received): void {
  const problem = disagreement(r);
  if (problem) throw new OpenApiMismatchError(problem);
}

export class OpenApiMismatchError extends Error {
  override name = 'OpenApiMismatchError';
}
