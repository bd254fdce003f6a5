/** The real FHIR server for ingest tests (medplum FhirRouter + MemoryRepository on loopback, with Bulk $export). */
export { startFhirServer, type FhirServerOptions, type RunningFhirServer } from '../../src/ingest/fhir/test-server.js';
