/** The operator console: server-rendered pages for the gateway (/console) and the aggregator (/console). */
export { consoleRouter, GATEWAY_COOKIE, type ConsoleDeps } from './gateway.js';
export { aggregatorConsoleRouter, AGGREGATOR_COOKIE, type AggregatorConsoleDeps } from './aggregator.js';
export { gatewayTrainingProviders, type GatewayProviderParts } from './gateway-providers.js';
export { CONSOLE_SCOPE } from './shell.js';
export type { TrainingProviders } from './training.js';
