export { configSchema, type Config, type ConfigInput } from './schema.js';
export { loadConfig, type LoadConfigOptions, type LoadedConfig } from './load.js';
export { configLeaves, envNameFor, type ConfigLeaf } from './env.js';
export { readSecret } from './secrets.js';
