import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from './config.js';
import { createLogger, type Logger } from './logger.js';
import { Shutdown } from './shutdown.js';

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
  try {
    await start(config, logger, shutdown);
  } catch (err) {
    logger.fatal({ err }, `${name} failed to start`);
    await shutdown.run();
    process.exit(1);
  }
}
