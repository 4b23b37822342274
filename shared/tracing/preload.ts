// Started with `node --import` (`--import ./shared/tracing/preload.ts` through tsx, or
// `./dist/shared/tracing/preload.js` compiled) ahead of every process's entry point. With
// OTEL_EXPORTER_OTLP_ENDPOINT unset it loads nothing more: tracing costs nothing when off.
import path from 'node:path';
import { loadConfig, type Config } from '../config.js';

let config: Config | undefined;
try {
  config = loadConfig();
} catch {
  // A bad environment: the process itself says what is wrong and exits.
}
if (config?.otelEndpoint) {
  const { startTracing } = await import('./sdk.js');
  // api/main.ts → "api", workers/main.js → "workers", scripts/start.ts → "start".
  const entry = process.argv[1] ?? '';
  const role =
    path.basename(path.dirname(entry)) === 'scripts'
      ? path.basename(entry).replace(/\.[jt]s$/, '')
      : path.basename(path.dirname(entry));
  await startTracing(config, role || 'service');
}
