/**
 * Ledger tables. `messages` is the receipt book: one row per accepted HL7v2 message or FHIR resource, deduplicated
 * by `dedupe_key` (v2: sender + MSH-10; FHIR: type/id + version). `resources` holds the latest version of each FHIR
 * resource for harmonization. `dead_letters` keeps why a message could not be converted so it can be replayed.
 */

export type SourceKind = 'hl7v2' | 'fhir';
export type MessageStatus = 'received' | 'converted' | 'harmonized' | 'dead';

export const SCHEMA_VERSION = 1;

export const DDL = `
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('hl7v2', 'fhir')),
  source TEXT NOT NULL,
  key TEXT NOT NULL,
  dedupe_key TEXT NOT NULL UNIQUE,
  received_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('received', 'converted', 'harmonized', 'dead')),
  hash TEXT NOT NULL,
  -- raw v2 text, or the FHIR JSON of a dead letter: what replay re-runs. NULL for converted FHIR (see resources).
  payload TEXT
);
CREATE INDEX IF NOT EXISTS messages_status ON messages(status);

CREATE TABLE IF NOT EXISTS dead_letters (
  message_id INTEGER PRIMARY KEY REFERENCES messages(id),
  code TEXT NOT NULL,
  message TEXT NOT NULL,
  location TEXT,
  attempts INTEGER NOT NULL DEFAULT 1,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  resolved_at TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_open ON dead_letters(resolved_at, code);

CREATE TABLE IF NOT EXISTS resources (
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version TEXT,
  last_updated TEXT,
  message_id INTEGER NOT NULL REFERENCES messages(id),
  json TEXT NOT NULL,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS checkpoints (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
`;
