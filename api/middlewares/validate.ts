import type { z } from 'zod';
import { ValidationError } from '../../shared/errors.js';

/** Parses with a zod schema; failures become 400 validation-failed naming each bad field. */
export function parse<S extends z.ZodType>(
  schema: S,
  value: unknown,
  where: 'body' | 'params' | 'query' | 'headers',
): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ValidationError(
    r.error.issues.map((i) => ({ path: [where, ...i.path.map(String)].join('.'), message: i.message })),
  );
}
