import test from 'ava';
import { ESLint } from 'eslint';
import { ROOT } from './helpers/stack.js';

// The house's layers are enforced by lint (eslint.config.js, scripts/lint/import-zones.js): these
// lint small sources as if they sat in the layer, without writing them.
const eslint = new ESLint({ cwd: ROOT });

async function zoneErrors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${filePath}` });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'house/import-zones').map((m) => m.message);
}

test('when shared/db imports a feature module, then lint fails', async (t) => {
  const errors = await zoneErrors(
    'shared/db/repositories/example.repository.ts',
    "import { holdView } from '../../holds/views.js';\nexport const v = holdView;\n",
  );
  t.is(errors.length, 1);
  t.regex(errors[0]!, /shared\/db is the bottom layer/);
});

test('when shared/db imports shared/domain, then lint passes', async (t) => {
  const errors = await zoneErrors(
    'shared/db/repositories/example.repository.ts',
    "import type { SeatStatus } from '../../domain/seats.js';\nexport type S = SeatStatus;\n",
  );
  t.deepEqual(errors, []);
});

test('when api/ imports shared/db directly, then lint fails', async (t) => {
  const errors = await zoneErrors(
    'api/routes/example.routes.ts',
    "import { Seat } from '../../shared/db/models/index.js';\nexport const s = Seat;\n",
  );
  t.is(errors.length, 1);
});
