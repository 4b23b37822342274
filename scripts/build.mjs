// npm run build: compiles the service to dist/ (tsc -p tsconfig.build.json) and copies what the
// code reads at run time next to its compiled module (through import.meta.url): the Lua scripts,
// the web client and the API docs' assets. Production runs `node dist/api/main.js` etc., no tsx.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(`usage: npm run build

Compiles api/, workers/, shared/ and scripts/ to dist/ and copies the files read at run time
(*.lua, api/public, api/openapi/assets). Typical run time: about 20 s.
`);
  process.exit(0);
}
if (args.length) {
  console.error(`build: unknown option ${args[0]}\nusage: npm run build`);
  process.exit(2);
}

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dist = path.join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

/** Every file under `dir` (relative to the root) that `keep` accepts. */
function* files(dir, keep) {
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = path.join(dir, name);
    if (statSync(path.join(root, rel)).isDirectory()) yield* files(rel, keep);
    else if (keep(rel)) yield rel;
  }
}
let copied = 0;
for (const top of ['api', 'shared', 'workers'])
  for (const rel of files(top, (f) => f.endsWith('.lua'))) {
    cpSync(path.join(root, rel), path.join(dist, rel));
    copied++;
  }
for (const dir of ['api/public', 'api/openapi/assets']) {
  cpSync(path.join(root, dir), path.join(dist, dir), { recursive: true });
  copied++;
}
console.log(`build: dist/ compiled, ${copied} run-time files and folders copied`);
