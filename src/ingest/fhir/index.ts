/** FHIR ingest: REST and Bulk pull (with SMART backend services), files, and the SSRF guard. */
export { bulkCheckpointName, bulkExport, type BulkOptions, type BulkSummary } from './bulk.js';
export { isBulkLog, jsonFileEntries, ndjsonEntries } from './files.js';
export { checkBaseUrl, checkUrl, type UrlPolicy } from './guard.js';
export { checkpointName, pullRest, type PullOptions, type PullSummary, type TokenProvider } from './pull.js';
export { clientAssertion, smartTokenProvider, tokenFromConfig, type SmartOptions } from './smart.js';
