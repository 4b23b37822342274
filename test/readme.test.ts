import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { ROOT, testEnv } from './helpers/stack.js';

// The README's curl walkthrough, run as written against `npm start` on a fresh database, twice in a
// row: each run must buy its own two seats (the ids come from the answers, not from a fresh database).

const DB = `ticketing_readme_${randomBytes(4).toString('hex')}`;
const server = new URL(process.env['DATABASE_URL'] ?? 'mysql://root@127.0.0.1:3306/ticketing_test');
let child: ChildProcess | undefined;

test.after.always(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGINT');
    await new Promise((r) => child!.once('exit', r));
  }
  const db = await mysql.createConnection({
    host: server.hostname,
    port: Number(server.port || 3306),
    user: decodeURIComponent(server.username),
    password: decodeURIComponent(server.password),
  });
  await db.query(`DROP DATABASE IF EXISTS \`${DB}\``);
  await db.end();
});

/** The JSON answers curl printed one after another (curl adds no newline between them). */
function answersOf(out: string): unknown[] {
  const values: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < out.length; i++) {
    const c = out[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth++ === 0) start = i;
    } else if ((c === '}' || c === ']') && --depth === 0) values.push(JSON.parse(out.slice(start, i + 1)));
  }
  return values;
}

/** The shell block that follows the walkthrough's sentence in README.md. */
async function walkthrough(): Promise<string> {
  const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('Buy two seats of the demo with curl');
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (at < 0 || !m) throw new Error('the curl walkthrough is missing from README.md');
  return m[1]!;
}

test('when the README’s curl walkthrough runs twice against npm start, then each run buys two seats of its own', async (t) => {
  const db = new URL(server.href);
  db.pathname = `/${DB}`;
  child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...testEnv({ DATABASE_URL: db.href, LOG_LEVEL: 'error' }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /web client\s+(http:\/\/localhost:\d+)\//.exec(out);
      if (m) resolve(m[1]!);
    });
    child!.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${out}`)));
  });

  const script = await walkthrough();
  t.regex(script, /^API=http:\/\/localhost:3000$/m, 'the walkthrough names the address once');
  // The one change: the address this test's server listens on.
  const runnable = script.replace(/^API=http:\/\/localhost:3000$/m, `API=${base}`);
  const answers: string[] = [];
  for (const round of [1, 2]) {
    const run = spawnSync('bash', ['-c', runnable], { encoding: 'utf8', timeout: 60_000 });
    t.is(run.status, 0, `round ${round}: ${run.stderr}`);
    const printed = answersOf(run.stdout);
    const final = printed[printed.length - 2] as { status: string; tickets?: unknown[] };
    t.is(final.status, 'succeeded', `round ${round}: the payment went through: ${run.stdout}`);
    t.is(final.tickets?.length, 2);
    const tickets = printed[printed.length - 1] as { items: { seatId: number }[] };
    t.is(tickets.items.length, 2 * round, `round ${round}: the member owns ${2 * round} tickets`);
    t.is(new Set(tickets.items.map((i) => i.seatId)).size, 2 * round, 'on distinct seats');
    answers.push(JSON.stringify(final));
  }
  t.not(answers[0], answers[1], 'the second run read its own request, not the first run’s');
});
