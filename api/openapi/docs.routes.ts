import express, { Router } from 'express';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openApiDocument } from './openapi.js';

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Ticketing API</title>
    <link rel="stylesheet" href="/docs/swagger-ui.css" />
  </head>
  <body>
    <div id="docs"></div>
    <script src="/docs/swagger-ui-bundle.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

/** `/api/openapi.json` and `/docs`: Swagger UI served from the installed swagger-ui-dist package (no CDN). */
export function docsRoutes(): Router {
  const require = createRequire(import.meta.url);
  const assets = path.dirname(require.resolve('swagger-ui-dist/package.json'));
  const r = Router();
  r.get('/api/openapi.json', (_req, res) => void res.json(openApiDocument()));
  r.get('/docs', (_req, res) => void res.type('html').send(PAGE));
  r.use('/docs', express.static(fileURLToPath(new URL('./assets', import.meta.url)), { index: false }));
  r.use('/docs', express.static(assets, { index: false, maxAge: '1h' }));
  return r;
}
