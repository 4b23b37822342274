// npm test: migrates the test database, runs ava with TAP output, and ends with "N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';

const env = {
  ...process.env,
  DATABASE_URL: process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/ticketing_test',
  NODE_ENV: 'test',
};
const migrate = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/migrate.ts'], {
  env,
  stdio: 'inherit',
});
if (migrate.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

const ava = spawn(
  process.execPath,
  ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...process.argv.slice(2)],
  {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let passed = 0;
let failed = 0;
let buffer = '';
const count = (line) => {
  if (/^ok \d+/.test(line) && !/# SKIP/i.test(line)) passed++;
  else if (/^not ok \d+/.test(line) && !/# TODO/i.test(line)) failed++;
};
ava.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  buffer += chunk.toString();
  const lines = buffer.split('\n');
  buffer = lines.pop() ?? '';
  lines.forEach(count);
});
ava.on('close', (code) => {
  count(buffer);
  if (code !== 0 && failed === 0) failed = 1; // ava failed outside any test (a crash, a timeout)
  console.log(`\n${passed} passed, ${failed} failed`);
  process.exit(code === 0 && failed === 0 ? 0 : 1);
});
