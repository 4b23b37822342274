import type { Logger } from './logger.js';

type Closer = { name: string; close: () => Promise<unknown> };

/** Closes what a process opened, newest first, once, on SIGINT/SIGTERM or when asked. */
export class Shutdown {
  private readonly closers: Closer[] = [];
  private closing: Promise<void> | undefined;
  constructor(private readonly logger: Logger) {}

  add(name: string, close: () => Promise<unknown>): void {
    this.closers.push({ name, close });
  }

  listen(exit = true): void {
    const onSignal = (signal: string) => {
      this.logger.info({ signal }, 'shutting down');
      void this.run().then(() => exit && process.exit(0));
      // A second signal forces the exit.
      process.once(signal, () => process.exit(1));
    };
    process.once('SIGINT', () => onSignal('SIGINT'));
    process.once('SIGTERM', () => onSignal('SIGTERM'));
  }

  run(): Promise<void> {
    this.closing ??= (async () => {
      for (const c of [...this.closers].reverse()) {
        try {
          await c.close();
        } catch (err) {
          this.logger.warn({ err, closer: c.name }, 'error while closing');
        }
      }
    })();
    return this.closing;
  }
}
