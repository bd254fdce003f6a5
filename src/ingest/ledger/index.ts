/** The durable ingest ledger: receipts with dedupe, dead letters, latest FHIR resources, sync checkpoints. */
export { Ledger, sha256, type DeadLetter, type DeadLetterFilter, type DeadReason, type LedgerEntry, type LedgerOptions, type SettleItem, type SettleOutcome, type WriteResult } from './ledger.js';
export { GroupCommitter, type Committer, type GroupCommitOptions } from './group-commit.js';
export { countResources, readResources, type ReadResourcesOptions } from './read.js';
export type { MessageStatus, SourceKind } from './schema.js';
