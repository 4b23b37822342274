import { z } from 'zod';
import { parse } from '../middlewares/validate.js';

export const idParam = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'must be a positive integer')
  .transform(Number);

// One schema per parameter name, built once: zod compiles a schema on first use.
const schemas = new Map<string, z.ZodType<Record<string, number>>>();

export function pathId(params: Record<string, string | string[] | undefined>, name: string): number {
  let schema = schemas.get(name);
  if (!schema) {
    schema = z.object({ [name]: idParam }) as unknown as z.ZodType<Record<string, number>>;
    schemas.set(name, schema);
  }
  return parse(schema, params, 'params')[name]!;
}

/**
 * `?waitSeconds=N`: how long a long-poll may hold its answer, from 0 to `max` seconds (a multiple
 * of 10). The pattern itself carries the bound, so the OpenAPI document states it too.
 */
export function waitSecondsQuery(max: 10 | 20 | 30) {
  const tens = max / 10 - 1;
  const pattern = new RegExp(`^(?:[0-${tens}]?\\d(?:\\.\\d+)?|${max}(?:\\.0+)?)$`);
  return z.object({
    waitSeconds: z
      .string()
      .regex(pattern, `a number of seconds from 0 to ${max}`)
      .transform(Number)
      .pipe(z.number().min(0).max(max))
      .optional()
      .describe(`Seconds, 0 to ${max}`),
  });
}
