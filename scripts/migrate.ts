import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { migrate } from '../shared/db/migrate.js';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'migrate');
const applied = await migrate(config, logger);
console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
