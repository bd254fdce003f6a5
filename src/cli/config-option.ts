import { loadConfig, type LoadedConfig } from '../config/index.js';
import { createLogger, type Logger } from '../core/logger.js';

/** Loads and validates the config once for a command, logs warnings, and returns it with a logger at its level. */
export function loadForCommand(file: string | undefined): LoadedConfig & { logger: Logger } {
  const loaded = loadConfig(file ? { file } : {});
  const logger = createLogger({ level: loaded.config.log.level });
  for (const w of loaded.warnings) logger.warn(w);
  return { ...loaded, logger };
}
