import { z } from 'zod';
import { parse } from '../middlewares/validate.js';

export const idParam = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'must be a positive integer')
  .transform(Number);

export function pathId(params: Record<string, string | string[] | undefined>, name: string): number {
  return parse(z.object({ [name]: idParam }), params, 'params')[name] as number;
}
