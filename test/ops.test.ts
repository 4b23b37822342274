import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig } from '../shared/config.js';
import { startWorkerProcess } from '../workers/main.js';
import { ROOT, Stack } from './helpers/stack.js';

// The deployment files are checked with the real tools (docker-compose 1.29, promtool); a missing
// tool fails these tests rather than skipping them.

type RunResult = { code: number | string; stdout: string; stderr: string };

/** Variables docker-compose.yml interpolates: unset, so the file's own defaults are what is checked. */
const COMPOSE_VARIABLES = [
  'MYSQL_ROOT_PASSWORD',
  'MYSQL_PASSWORD',
  'JWT_SECRET',
  'ADMIN_EMAIL',
  'ADMIN_PASSWORD',
  'GRAFANA_ADMIN_PASSWORD',
  'LOG_LEVEL',
];

function run(
  cmd: string,
  args: string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: err.code ?? 'spawn-error', stdout, stderr: `${cmd}: ${err.message}` }),
    );
    child.once('close', (code, signal) => resolve({ code: code ?? `signal ${signal}`, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** What an operator's .env holds: generated values (the repository publishes none). */
const OPERATOR_ENV: Record<string, string> = {
  MYSQL_ROOT_PASSWORD: 'Rk3vQ9zW1mTx8bLp2NcY',
  MYSQL_PASSWORD: 'h7GfK2sLq9WzX4vBn1Mc',
  JWT_SECRET: 'c9F2kQ7xZ1wL4vN8bT3mR6yH0pJ5sD2gA7uE9iO1',
  ADMIN_EMAIL: 'ops@ticketing.test',
  ADMIN_PASSWORD: 'Tq8#Vn2$Lm5xWz',
  GRAFANA_ADMIN_PASSWORD: 'Gr4f-Xk9Pq2Lw7',
};

function composeEnv(values: Record<string, string> = OPERATOR_ENV): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of COMPOSE_VARIABLES) delete env[name];
  return { ...env, ...values };
}

type ComposeService = {
  command?: string | string[];
  environment?: Record<string, string | null>;
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition?: string }> | string[];
  restart?: string;
  volumes?: string[];
  ports?: unknown[];
};
type ComposeConfig = { services: Record<string, ComposeService> };

/** `docker-compose config` resolved (defaults, anchors, merge keys), as an object. */
async function resolvedCompose(): Promise<ComposeConfig> {
  const config = await run('docker-compose', ['-f', 'docker-compose.yml', 'config'], { env: composeEnv() });
  if (config.code !== 0) throw new Error(`docker-compose config exited ${config.code}: ${config.stderr}`);
  // docker-compose 1.29 prints YAML only; it is a Python program built on PyYAML, so python3 + yaml
  // is there wherever it is, and turns its output into JSON without a YAML parser in package.json.
  const toJson = 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)';
  const json = await run('python3', ['-c', toJson], { input: config.stdout });
  if (json.code !== 0) throw new Error(`converting docker-compose config to JSON failed: ${json.stderr}`);
  return JSON.parse(json.stdout) as ComposeConfig;
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'inf',
  'nan',
]);

/** Metric names an expression selects: not functions, keywords, labels, strings, durations or Grafana variables. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.:])[A-Za-z_:][\w:]*/g)) {
    const isFunction = /^\s*\(/.test(stripped.slice(m.index + m[0].length));
    if (!isFunction && !PROMQL_WORDS.has(m[0].toLowerCase())) names.add(m[0]);
  }
  return [...names];
}

type Dashboard = { file: string; title: string; exprs: string[]; datasourceUids: string[] };

async function readDashboards(dir = path.join(ROOT, 'dashboards')): Promise<Dashboard[]> {
  const out: Dashboard[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await readDashboards(file)));
    else if (entry.name.endsWith('.json')) {
      const json = JSON.parse(await readFile(file, 'utf8')) as { title?: string };
      const exprs: string[] = [];
      const datasourceUids: string[] = [];
      const walk = (node: unknown): void => {
        if (Array.isArray(node)) return node.forEach(walk);
        if (!node || typeof node !== 'object') return;
        for (const [key, value] of Object.entries(node)) {
          if (key === 'expr' && typeof value === 'string') exprs.push(value);
          else if (key === 'datasource' && value && typeof value === 'object' && 'uid' in value) {
            datasourceUids.push(String(value.uid));
          } else walk(value);
        }
      };
      walk(json);
      out.push({ file: path.relative(ROOT, file), title: json.title ?? '', exprs, datasourceUids });
    }
  }
  return out;
}

/** `# TYPE <name> <type>` lines: prom-client prints them for every registered metric, observed or not. */
function metricTypes(exposition: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  return types;
}

function isExposed(name: string, types: Map<string, string>): boolean {
  if (types.has(name)) return true;
  const series = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (!series) return false;
  const type = types.get(series[1]!);
  return type === 'histogram' || (type === 'summary' && series[2] !== 'bucket');
}

test('when docker-compose validates docker-compose.yml, then it exits 0', async (t) => {
  const r = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { env: composeEnv() });
  t.is(r.code, 0, r.stderr);
});

test('when the compose file is resolved, then it runs the contract stack: Redis AOF + noeviction, 2 workers, migrate first', async (t) => {
  const { services } = await resolvedCompose();
  t.deepEqual(Object.keys(services).sort(), [
    'api',
    'grafana',
    'jaeger',
    'migrate',
    'mysql',
    'otel-collector',
    'prometheus',
    'redis',
    'workers',
  ]);

  const redisCommand = [services['redis']?.command ?? []].flat().join(' ');
  t.regex(redisCommand, /--appendonly yes\b/);
  t.regex(redisCommand, /--maxmemory-policy noeviction\b/);
  t.is(services['workers']?.deploy?.replicas, 2);

  const migrateDeps = services['migrate']?.depends_on;
  t.like(migrateDeps, { mysql: { condition: 'service_healthy' } });
  t.is(services['migrate']?.restart, 'no', 'migrate runs once');
  for (const name of ['api', 'workers']) {
    t.like(services[name]?.depends_on, {
      migrate: { condition: 'service_completed_successfully' },
      redis: { condition: 'service_healthy' },
    });
  }
  t.is(services['workers']?.environment?.['WORKER_METRICS_PORT'], '9464');
  // The API's metrics on their own port, not published on the host; Prometheus scrapes that port.
  t.is(services['api']?.environment?.['METRICS_PORT'], '9465');
  t.notRegex(JSON.stringify(services['api']?.ports ?? []), /9465/);
  const scrape = await readFile(path.join(ROOT, 'dashboards/prometheus.yml'), 'utf8');
  t.regex(scrape, /names: \['api'\]\s+type: A\s+port: 9465/);
  // Tracing: the app processes start with the preload and export to the collector, which feeds Jaeger.
  for (const name of ['api', 'workers']) {
    t.is(services[name]?.environment?.['OTEL_EXPORTER_OTLP_ENDPOINT'], 'http://otel-collector:4318', name);
    t.deepEqual([services[name]?.command ?? []].flat().slice(0, 3), [
      'node',
      '--import',
      './dist/shared/tracing/preload.js',
    ]);
  }
  t.true(
    services['otel-collector']?.volumes?.some((v) =>
      v.endsWith('dashboards/otel-collector.yml:/etc/otelcol/config.yaml:ro'),
    ),
  );
  t.regex(JSON.stringify(services['jaeger']?.ports ?? []), /127\.0\.0\.1/);
  t.true(
    services['prometheus']?.volumes?.some((v) =>
      v.endsWith('dashboards/prometheus.yml:/etc/prometheus/prometheus.yml:ro'),
    ),
  );
  t.true(
    services['grafana']?.volumes?.some((v) =>
      v.includes('dashboards/grafana/provisioning:/etc/grafana/provisioning'),
    ),
  );
});

test('when the app services start with the compose defaults, then the production config accepts their environment', async (t) => {
  const { services } = await resolvedCompose();
  for (const name of ['migrate', 'api', 'workers']) {
    const env = Object.fromEntries(
      Object.entries(services[name]?.environment ?? {}).map(([k, v]) => [k, v ?? undefined] as const),
    );
    t.is(env['NODE_ENV'], 'production', name);
    const config = parseConfig(env);
    t.is(config.databaseUrl.replace(/\/\/[^@]*@/, '//'), 'mysql://mysql:3306/ticketing', name);
    t.regex(config.databaseUrl, /^mysql:\/\/ticketing:/, `${name} connects as its own user, not root`);
    t.is(config.redisUrl, 'redis://redis:6379', name);
  }
});

test('when a secret is missing from .env, then docker-compose refuses to start naming it', async (t) => {
  for (const name of ['JWT_SECRET', 'ADMIN_PASSWORD', 'MYSQL_PASSWORD', 'GRAFANA_ADMIN_PASSWORD']) {
    const values = { ...OPERATOR_ENV };
    delete values[name];
    const r = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], {
      env: composeEnv(values),
    });
    t.not(r.code, 0, name);
    t.regex(r.stderr, new RegExp(name), name);
  }
});

test('when production is given a published, placeholder or weak secret or the MySQL root user, then it refuses to start', (t) => {
  const good = {
    NODE_ENV: 'production',
    DATABASE_URL: `mysql://ticketing:${OPERATOR_ENV['MYSQL_PASSWORD']}@mysql:3306/ticketing`,
    JWT_SECRET: OPERATOR_ENV['JWT_SECRET'],
    ADMIN_EMAIL: OPERATOR_ENV['ADMIN_EMAIL'],
    ADMIN_PASSWORD: OPERATOR_ENV['ADMIN_PASSWORD'],
  };
  t.notThrows(() => parseConfig(good));
  const refused: [string, Record<string, string>, RegExp][] = [
    [
      'the old compose JWT placeholder',
      { JWT_SECRET: 'compose-placeholder-jwt-secret-change-me-0123456789' },
      /JWT_SECRET/,
    ],
    ['a low-entropy JWT secret', { JWT_SECRET: 'a'.repeat(40) }, /JWT_SECRET/],
    ['the old compose admin password', { ADMIN_PASSWORD: 'compose-admin-change-me' }, /ADMIN_PASSWORD/],
    ['a short admin password', { ADMIN_PASSWORD: 'Xk9$qL2v' }, /ADMIN_PASSWORD/],
    [
      'MySQL as root',
      { DATABASE_URL: `mysql://root:${OPERATOR_ENV['MYSQL_PASSWORD']}@mysql:3306/ticketing` },
      /DATABASE_URL/,
    ],
    [
      'the old MySQL placeholder',
      { DATABASE_URL: 'mysql://ticketing:ticketing-root-change-me@mysql:3306/ticketing' },
      /DATABASE_URL/,
    ],
    ['no MySQL password', { DATABASE_URL: 'mysql://ticketing@mysql:3306/ticketing' }, /DATABASE_URL/],
  ];
  for (const [name, change, variable] of refused)
    t.throws(() => parseConfig({ ...good, ...change }), { message: variable }, name);
});

test('when the monitoring services are resolved, then Prometheus listens on this machine only and Grafana has no anonymous access', async (t) => {
  const { services } = await resolvedCompose();
  const ports = JSON.stringify(services['prometheus']?.ports ?? []);
  t.regex(ports, /127\.0\.0\.1/);
  const grafana = services['grafana']?.environment ?? {};
  t.is(grafana['GF_AUTH_ANONYMOUS_ENABLED'], 'false');
  t.is(grafana['GF_SECURITY_ADMIN_PASSWORD'], OPERATOR_ENV['GRAFANA_ADMIN_PASSWORD']);
});

test('when promtool checks dashboards/prometheus.yml, then it exits 0', async (t) => {
  const r = await run('promtool', ['check', 'config', 'dashboards/prometheus.yml']);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
});

test('when a PromQL expression is read, then only its metric names are taken', (t) => {
  t.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route!~".*/events"}[$__rate_interval])))',
    ),
    ['http_request_duration_seconds_bucket'],
  );
  t.deepEqual(
    metricNames(
      'sum(rate(a_total{kind="hold"}[5m])) / on (kind) group_left(x) sum(b_count) by (kind) > bool 1e3',
    ),
    ['a_total', 'b_count'],
  );
  t.deepEqual(metricNames('sum(max by (performance_id, state) (seat_queue_jobs offset 5m))'), [
    'seat_queue_jobs',
  ]);
});

test('when the dashboards are read, then each has queries, uses the provisioned datasource, and every query parses as PromQL', async (t) => {
  const dashboards = await readDashboards();
  t.true(dashboards.length > 0, 'at least one dashboard JSON in dashboards/');
  const provisioned = await readFile(
    path.join(ROOT, 'dashboards/grafana/provisioning/datasources/prometheus.yml'),
    'utf8',
  );
  const uid = /^\s*uid:\s*(\S+)\s*$/m.exec(provisioned)?.[1];
  t.truthy(uid, 'the provisioned datasource has a uid');

  const dir = await mkdtemp(path.join(tmpdir(), 'ops-test-'));
  try {
    for (const d of dashboards) {
      t.true(d.exprs.length > 0, `${d.file} has queries`);
      for (const u of d.datasourceUids) {
        t.true(u === uid || u === '-- Grafana --', `${d.file} uses datasource ${u}`);
      }
      // promtool parses rule expressions: Grafana's interval variables become a plain duration first
      const rules = {
        groups: [
          {
            name: 'dashboard',
            rules: d.exprs.map((expr, i) => ({
              record: `dashboard:expr_${i}`,
              expr: expr.replace(
                /\$__(?:rate_interval|interval|range)|\$\{__(?:rate_interval|interval|range)\}/g,
                '1m',
              ),
            })),
          },
        ],
      };
      const file = path.join(dir, `${path.basename(d.file, '.json')}.rules.yml`);
      await writeFile(file, JSON.stringify(rules, null, 2));
      const r = await run('promtool', ['check', 'rules', file]);
      t.is(r.code, 0, `${d.file}: ${r.stdout}\n${r.stderr}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('when the API and a worker serve /metrics, then every metric the dashboards query is exposed', async (t) => {
  const stack = await Stack.start({ workers: 1 });
  // A worker with its own metrics server, as each compose replica runs it (port 0: any free port)
  const worker = await startWorkerProcess({ ...stack.config, workerMetricsPort: 0 }, { metrics: true });
  try {
    const apiRes = await fetch(stack.metricsUrl);
    t.is(apiRes.status, 200);
    const apiTypes = metricTypes(await apiRes.text());
    const port = (worker.metricsServer!.address() as AddressInfo).port;
    const workerRes = await fetch(`http://127.0.0.1:${port}/metrics`);
    t.is(workerRes.status, 200);
    const workerTypes = metricTypes(await workerRes.text());

    const used = new Map<string, string[]>();
    for (const d of await readDashboards()) {
      for (const name of d.exprs.flatMap(metricNames)) used.set(name, [...(used.get(name) ?? []), d.file]);
    }
    t.true(used.size > 0, 'the dashboards query some metrics');
    for (const [name, files] of used) {
      t.true(
        isExposed(name, apiTypes),
        `${name} (${[...new Set(files)].join(', ')}) is on the API's /metrics`,
      );
      t.true(
        isExposed(name, workerTypes),
        `${name} (${[...new Set(files)].join(', ')}) is on the worker's /metrics`,
      );
    }
  } finally {
    await worker.close();
    await stack.close();
  }
});
