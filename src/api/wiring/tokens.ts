import type { Config } from '../../config/schema.js';
import { OperatorTokens } from '../../federation/auth.js';

/** Operator bearer tokens from `auth.operatorTokensFile` (a mounted Secret), or none: then only signed requests pass. */
export function loadOperatorTokens(config: Config): OperatorTokens | undefined {
  const file = config.auth.operatorTokensFile;
  return file ? OperatorTokens.fromFile(file, 'auth.operatorTokensFile') : undefined;
}
