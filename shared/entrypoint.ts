import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { Shutdown } from './shutdown.js';
import { describeFailure } from './failure.js';
import { tracing } from './tracing/tracing.js';

/** True when the module with this import.meta.url is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return !!process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href;
}

/**
 * The start of every process: read and validate the environment (a bad value exits 2 with the
 * message), then run `start`; SIGINT/SIGTERM close what it registered, newest first. A failed start
 * closes what was opened and exits 1.
 */
export async function runProcess(
  name: string,
  start: (config: Config, logger: Logger, shutdown: Shutdown) => Promise<void>,
): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, name);
  const shutdown = new Shutdown(logger);
  shutdown.listen();
  // Added first, so closed last: the spans of the shutdown itself are flushed too.
  const traces = tracing();
  if (traces) shutdown.add('tracing', () => traces.shutdown());
  // Whatever kills the process later says why in one sentence too.
  const die = (err: unknown) => {
    process.stderr.write(`${name}: stopped: ${describeFailure(err)}\n`);
    logger.debug({ err }, `${name} stopped`);
    process.exit(1);
  };
  process.once('uncaughtException', die);
  process.once('unhandledRejection', die);
  try {
    await start(config, logger, shutdown);
  } catch (err) {
    // One readable sentence for the operator; the structured line (with the stack) at debug.
    process.stderr.write(`${name}: cannot start: ${describeFailure(err)}\n`);
    logger.debug({ err }, `${name} failed to start`);
    // Nothing was served yet: exit now rather than wait on connections that never opened.
    process.exit(1);
  }
}
