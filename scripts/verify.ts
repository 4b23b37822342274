// npm run verify -- fairness --url URL --performance N [--receipt FILE]
//
// Checks a sale's fairness from outside, over its public routes: the seed against the commitment
// published before opening, the roster against its Merkle root, the order from seed and roster,
// the admission log's chain, that admission followed the order within the capacity and outflow cap
// in force, and (with --receipt, a saved GET /waiting/receipt answer) the member's proofs.
// Exits 0 when all hold, 1 naming the first broken entry otherwise, 2 on bad arguments.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { verifyFairness, type Receipt } from './lib/fairness-verifier.js';

const HELP = `usage: npm run verify -- fairness --url URL --performance N [--receipt FILE]

  --url URL          the service (e.g. http://127.0.0.1:3000)
  --performance N    the performance id
  --receipt FILE     a member's receipt (the JSON of GET /api/performances/N/waiting/receipt)
  --help             this text

Checks the draw (seed vs commitment, roster vs Merkle root, order), the admission log (hash chain,
order, capacity and outflow cap in force) and the receipt's proofs. Exit 0: all hold; 1: the first
broken entry is named; 2: bad arguments. Typical run: under a second per 10,000 log entries.`;

function usage(message?: string): never {
  if (message) console.error(`verify: ${message}`);
  console.error(HELP);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      performance: { type: 'string' },
      receipt: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
} catch (err) {
  usage((err as Error).message);
}
const { values: v, positionals } = parsed;
if (v.help) {
  console.log(HELP);
  process.exit(0);
}
if (positionals[0] !== 'fairness' || positionals.length > 1)
  usage(`unknown check "${positionals.join(' ')}" (known: fairness)`);
if (!v.url) usage('--url is required');
if (!v.performance || !/^[1-9]\d*$/.test(v.performance)) usage('--performance must be a performance id');
const receipt = v.receipt ? (JSON.parse(await readFile(v.receipt, 'utf8')) as Receipt) : undefined;

const started = performance.now();
try {
  const verdict = await verifyFairness(v.url, Number(v.performance), receipt);
  for (const line of verdict.lines) console.log(line);
  console.log(
    `${verdict.ok ? 'VERIFIED' : 'BROKEN'}: ${verdict.entries} log entries checked in ${((performance.now() - started) / 1000).toFixed(2)} s`,
  );
  process.exit(verdict.ok ? 0 : 1);
} catch (err) {
  console.error(`verify: ${(err as Error).message}`);
  process.exit(1);
}
