import { mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * bull-board's UI as installed, less what it loads from other hosts: its page links web fonts from
 * a font CDN. A copy of the page without that link goes in a directory of its own (built once per
 * installed copy; the static files are the package's own, linked), whose path is bull-board's
 * `uiBasePath`. The UI falls back to the system's sans-serif and monospace fonts.
 */
export function localBullBoardUi(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve('@bull-board/ui/package.json');
  const source = path.dirname(pkgJson);
  const { version } = JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string };
  // One directory per installed copy: its static link points into that copy, and a directory shared
  // by two checkouts would link into whichever started first (and dangle once it is deleted).
  const install = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const base = path.join(
    tmpdir(),
    `ticketing-bull-board-ui-${version}-${process.getuid?.() ?? 0}-${install}`,
  );
  const dist = path.join(base, 'dist');
  mkdirSync(dist, { recursive: true });
  const page = readFileSync(path.join(source, 'dist/index.ejs'), 'utf8').replace(
    /<link[^>]*href="https?:\/\/[^"]*"[^>]*>/g,
    '',
  );
  // Written aside then renamed: processes starting side by side never read half a page.
  const tmp = path.join(dist, `index.ejs.${process.pid}`);
  writeFileSync(tmp, page);
  renameSync(tmp, path.join(dist, 'index.ejs'));
  try {
    symlinkSync(path.join(source, 'dist/static'), path.join(dist, 'static'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return base;
}
