import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { type Browser, type BrowserContextOptions, type Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { ROOT, Stack } from './helpers/stack.js';
import { registry } from '../shared/metrics.js';

// The operator's surfaces (contract §5): the OpenAPI document, /docs, bull-board, route labels.
let stack: Stack;
let browser: Browser;
test.before(async () => {
  stack = await Stack.start({ workers: 1 });
  browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
  await stack?.close();
});

type Layer = {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  rawPath?: string | string[];
  handle: { stack?: Layer[] };
};

/** Every (method, path) the express app registers as a route, mounted routers included. */
function registeredRoutes(stackOf: Layer[], prefix = ''): string[] {
  const out: string[] = [];
  for (const layer of stackOf) {
    const raw = typeof layer.rawPath === 'string' ? layer.rawPath : '';
    const here = raw === '/' ? prefix : `${prefix}${raw}`;
    if (layer.route) {
      for (const p of [layer.route.path].flat())
        for (const [m, on] of Object.entries(layer.route.methods))
          if (on && m !== '_all') out.push(`${m} ${prefix}${p}`);
    } else if (layer.handle.stack) out.push(...registeredRoutes(layer.handle.stack, here));
  }
  return out;
}

test('when the OpenAPI document is checked by an OpenAPI 3.1 validator, then it is valid and covers every registered route', async (t) => {
  const res = await stack.http<Record<string, unknown>>('GET', '/api/openapi.json');
  t.is(res.status, 200);
  const validator = new Validator();
  const result = await validator.validate(res.body);
  t.true(result.valid, JSON.stringify(result.errors, null, 1)?.slice(0, 2000));
  t.is(validator.version, '3.1');

  const paths = res.body['paths'] as Record<string, Record<string, unknown>>;
  const app = stack.apis[0]!.ctx && (await import('../api/server.js')).createApi(stack.ctx);
  try {
    const routes = registeredRoutes((app.app as unknown as { router: { stack: Layer[] } }).router.stack);
    t.true(routes.length >= 20, `found ${routes.length} routes`);
    t.true(routes.includes('patch /api/performances/:id'), 'mounted routers are walked');
    for (const r of routes) {
      const [method, p] = r.split(' ') as [string, string];
      const openapiPath = p.replace(/:(\w+)/g, '{$1}');
      t.truthy(paths[openapiPath]?.[method], `${method.toUpperCase()} ${p} is in the document`);
    }
  } finally {
    await app.close();
  }
  t.truthy(paths['/admin/queues']?.['get'], 'bull-board is in the document');
  const ids = Object.values(paths).flatMap((ops) =>
    Object.values(ops).map((op) => (op as { operationId: string }).operationId),
  );
  t.is(new Set(ids).size, ids.length, 'operation ids are unique');
});

test('when the source answers a problem code, then the document lists it', async (t) => {
  const doc = (await stack.http<Record<string, unknown>>('GET', '/api/openapi.json')).body;
  const problem = (
    doc['components'] as { schemas: { Problem: { properties: { code: { enum: string[] } } } } }
  ).schemas.Problem;
  const listed = new Set(problem.properties.code.enum);
  const found = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const file = path.join(dir, e.name);
      if (e.isDirectory()) await walk(file);
      else if (e.name.endsWith('.ts')) {
        const src = await readFile(file, 'utf8');
        // new XError('code', ...), new AppError(413, 'code', ...), super(409, 'code', ...)
        for (const m of src.matchAll(/(?:Error\(|super\(|AppError\(\s*\d{3},\s*)'([a-z]+(?:-[a-z]+)*)'/g))
          found.add(m[1]!);
        for (const m of src.matchAll(/super\(\s*\d{3},\s*'([a-z]+(?:-[a-z]+)*)'/g)) found.add(m[1]!);
      }
    }
  };
  await Promise.all(['api', 'shared'].map((d) => walk(path.join(ROOT, d))));
  t.true(found.size >= 15, `found ${found.size} codes in the source`);
  for (const code of found) t.true(listed.has(code), `${code} is in the OpenAPI document`);
  // And each one documented is answered somewhere, in a route's responses.
  const text = JSON.stringify(doc['paths']);
  for (const code of listed) t.true(text.includes(`"${code}"`), `${code} appears on some route`);
});

/** With $ADMIN_SCREENSHOTS set, a screenshot there for people to look at. */
async function screenshot(page: Page, file: string): Promise<void> {
  const dir = process.env['ADMIN_SCREENSHOTS'];
  if (dir) await page.screenshot({ path: path.join(dir, file) });
}

/** A browser page that records every request leaving for another host. */
async function visit(url: string, options: BrowserContextOptions = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const origin = new URL(stack.url).origin;
  const foreign: string[] = [];
  const errors: string[] = [];
  context.on('request', (r) => {
    const u = new URL(r.url());
    if (u.protocol !== 'data:' && u.protocol !== 'blob:' && u.origin !== origin) foreign.push(r.url());
  });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  return { page, context, foreign, errors };
}

test('when /docs opens in Chromium, then the API document renders and nothing is fetched from another host', async (t) => {
  const { page, context, foreign, errors } = await visit(`${stack.url}/docs`);
  try {
    await page.getByText('Ticketing API').first().waitFor();
    await page.locator('.opblock-summary-path', { hasText: '/api/performances/{id}' }).first().waitFor();
    t.true((await page.locator('.opblock').count()) >= 20, 'every operation is drawn');
    await screenshot(page, 'docs.png');
    await page.waitForLoadState('networkidle');
    t.deepEqual(foreign, [], 'no request to another host');
    t.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('when bull-board opens in Chromium, then its queues carry their performance names and nothing is fetched from another host', async (t) => {
  const { performanceId } = await stack.performance(2);
  const name = `test ${stack.config.keyPrefix}`;
  const { page, context, foreign, errors } = await visit(`${stack.url}/admin/queues`, {
    httpCredentials: { username: stack.config.adminEmail, password: stack.config.adminPassword },
  });
  try {
    await page.getByText(`${name} (#${performanceId})`).first().waitFor();
    // The menu too, and its link opens the queue's page.
    await page.getByText(`${name} · {perf-${performanceId}}`).first().click();
    await page.getByRole('heading', { name: `${name} (#${performanceId})` }).waitFor();
    await screenshot(page, 'bull-board.png');
    await page.waitForLoadState('networkidle');
    t.deepEqual(foreign, [], 'no request to another host');
    t.deepEqual(errors, []);
  } finally {
    await context.close();
  }
});

test('when static files, bull-board and the docs are served, then each has one sane route label', async (t) => {
  const admin = await stack.admin();
  await stack.http('GET', '/style.css');
  await stack.http('GET', '/admin/queues/api/queues', { token: admin });
  await stack.http('GET', '/docs/swagger-ui.css');
  await stack.http('GET', '/no-such-page');
  await stack.http('GET', '/api/openapi.json');
  await stack.http('GET', '/api/performances/1/waiting');
  const metric = await registry.getSingleMetric('http_request_duration_seconds')!.get();
  const routes = new Set(metric.values.map((v) => String(v.labels['route'])));
  for (const label of [
    'static',
    '/admin/queues',
    '/docs',
    'unmatched',
    '/api/openapi.json',
    '/api/performances/:id/waiting',
  ])
    t.true(routes.has(label), label);
  for (const r of routes) t.regex(r, /^(static|unmatched|\/[\w/:.{}-]*)$/, `label ${r}`);
});
