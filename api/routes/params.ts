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

/** `?waitSeconds=N`: how long a long-poll may hold its answer, from 0 to `max` seconds. */
export function waitSecondsQuery(max: number) {
  return z.object({
    waitSeconds: z
      .string()
      .regex(/^\d+(\.\d+)?$/, `a number of seconds from 0 to ${max}`)
      .transform(Number)
      .pipe(z.number().min(0).max(max))
      .optional(),
  });
}
