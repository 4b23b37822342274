import { Router } from 'express';
import { z } from 'zod';
import { login, registerMember } from '../../shared/auth/identity.service.js';
import { parse } from '../middlewares/validate.js';
import type { ApiDeps } from '../deps.js';

export const credentials = z.strictObject({ email: z.email().max(254), password: z.string().min(8).max(72) });
export const loginBody = z.strictObject({
  email: z.string().min(1).max(254),
  password: z.string().min(1).max(200),
});

export function identityRoutes({ ctx, credentials: limits }: ApiDeps): Router {
  const r = Router();
  r.post('/members', async (req, res) => {
    const body = parse(credentials, req.body, 'body');
    await limits.client.take(req.ip ?? 'unknown');
    res.status(201).json(await registerMember(body.email, body.password));
  });
  r.post('/login', async (req, res) => {
    const body = parse(loginBody, req.body, 'body');
    await limits.client.take(req.ip ?? 'unknown');
    await limits.account.take(body.email.toLowerCase());
    res.json(await login(ctx.config, body.email, body.password));
  });
  return r;
}
