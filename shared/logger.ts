import { pino, type Logger } from 'pino';
import { tracing } from './tracing/tracing.js';

export type { Logger };

/** With tracing on, every line logged inside a traced request or batch carries its `traceId`. */
export function createLogger(level: string, name: string): Logger {
  const t = tracing();
  return pino({
    name,
    level,
    ...(t && {
      mixin: () => {
        const traceId = t.traceId();
        return traceId ? { traceId } : {};
      },
    }),
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        '*.password',
        'password',
        '*.accessToken',
        '*.token',
        'payment.token',
      ],
      censor: '[redacted]',
    },
  });
}
