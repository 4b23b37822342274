// A local ESLint rule: which folders may import which (the house's layers, style.md). Relative
// imports are resolved against the importing file and compared with the zones below; a package
// import is never restricted here.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Each zone: files under `target` may import only what `allow` lists (when given) and nothing that
 * `forbid` lists. Paths are relative to the repository, folders end with a slash.
 */
export const ZONES = [
  {
    target: 'shared/db/',
    allow: ['shared/db/', 'shared/domain/', 'shared/config.ts', 'shared/logger.ts'],
    message:
      'shared/db is the bottom layer: it imports only shared/domain, config and logger, never a feature',
  },
  {
    target: 'shared/domain/',
    allow: ['shared/domain/'],
    message: 'shared/domain is plain TypeScript rules: it imports only shared/domain',
  },
  {
    target: 'api/',
    forbid: ['shared/db/', 'workers/'],
    message:
      'api/ reaches the database through shared services, never shared/db directly, and never workers/',
  },
  { target: 'workers/', forbid: ['api/'], message: 'workers/ never imports api/' },
  { target: 'shared/', forbid: ['api/', 'workers/'], message: 'shared/ imports neither api/ nor workers/' },
];

const under = (file, prefix) => (prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix);

function resolve(fromFile, spec) {
  const abs = path.resolve(path.dirname(fromFile), spec);
  // Sources import their .ts siblings as .js.
  return path.relative(ROOT, abs).split(path.sep).join('/').replace(/\.js$/, '.ts');
}

export const importZones = {
  meta: {
    type: 'problem',
    docs: { description: 'keeps imports inside the layers of the house' },
    schema: [],
  },
  create(context) {
    const file = path.relative(ROOT, context.filename).split(path.sep).join('/');
    const zones = ZONES.filter((z) => file.startsWith(z.target));
    if (!zones.length) return {};
    const check = (node, source) => {
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = resolve(context.filename, source);
      for (const z of zones) {
        const allowed = !z.allow || z.allow.some((a) => under(to, a) || under(to + '/', a));
        const forbidden = (z.forbid ?? []).some((f) => under(to, f));
        if (!allowed || forbidden) {
          context.report({ node, message: `${z.message} (imports ${to})` });
          return;
        }
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
