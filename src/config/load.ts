import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, type Document } from 'yaml';
import { FhirfedError, type ErrorDetail } from '../core/errors.js';
import { configSchema, type Config } from './schema.js';
import { NON_CONFIG_ENV, coerceEnvValue, configLeaves } from './env.js';

export interface LoadConfigOptions {
  /** YAML file; FHIRFED_CONFIG is used when absent. */
  readonly file?: string;
  /** Environment to read (defaults to process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface LoadedConfig {
  readonly config: Config;
  /** Non-fatal findings, e.g. an unknown FHIRFED_* variable (likely a typo). */
  readonly warnings: readonly string[];
  /** Where each overridden key came from (`file` or the env variable name): for `config` diagnostics. */
  readonly sources: Readonly<Record<string, string>>;
}

interface FileSource {
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
}

function readYaml(file: string): { data: Record<string, unknown>; source: FileSource } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `cannot read config file (${code ?? 'error'})`, {
      where: { file },
      hint: code === 'ENOENT' ? 'check the --config path (relative paths are from the current directory)' : 'check the file permissions',
    });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const details: ErrorDetail[] = doc.errors.map((err) => ({
      file,
      line: lines.linePos(err.pos[0]).line,
      message: err.message.split('\n')[0] ?? 'YAML syntax error',
    }));
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', `config file is not valid YAML (${details.length} problem(s))`, {
      where: { file },
      details,
      hint: 'fix the YAML syntax at the lines shown',
    });
  }
  const data: unknown = doc.toJS() ?? {};
  if (doc.contents !== null && !isMap(doc.contents)) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_FILE', 'config file must be a YAML mapping of sections (site:, server:, ...)', {
      where: { file, line: 1 },
      hint: 'see the configuration reference in README.md',
    });
  }
  return { data: (data ?? {}) as Record<string, unknown>, source: { file, doc, lines } };
}

function setPath(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function lineOf(source: FileSource | undefined, path: readonly PropertyKey[]): number | undefined {
  if (!source) return undefined;
  for (let n = path.length; n > 0; n--) {
    const node = source.doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return source.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Reads the YAML file and FHIRFED_* environment (environment wins), validates once against the schema and returns a
 * frozen config. Throws FHIRFED_ERR_CONFIG_INVALID listing every problem with its key path, origin and reason.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.FHIRFED_CONFIG;
  const sources: Record<string, string> = {};
  let input: Record<string, unknown> = {};
  let source: FileSource | undefined;
  if (file) {
    const y = readYaml(file);
    input = y.data;
    source = y.source;
  }

  const warnings: string[] = [];
  const leaves = configLeaves();
  const byEnv = new Map(leaves.map((l) => [l.env, l]));
  const envFor = new Map<string, string>();
  const redisUrlLeaf = byEnv.get('FHIRFED_REDIS_URL');
  if (redisUrlLeaf && env.REDIS_URL !== undefined && env.FHIRFED_REDIS_URL === undefined) {
    setPath(input, redisUrlLeaf.path, env.REDIS_URL);
    envFor.set('redis.url', 'REDIS_URL');
  }
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('FHIRFED_') || raw === undefined) continue;
    const leaf = byEnv.get(name);
    if (!leaf) {
      if (!NON_CONFIG_ENV.has(name) && !name.startsWith('FHIRFED_TEST_')) {
        warnings.push(`${name} is not a fhirfed setting and is ignored (see the configuration reference in README.md)`);
      }
      continue;
    }
    setPath(input, leaf.path, coerceEnvValue(raw, leaf));
    envFor.set(leaf.path.join('.'), name);
  }
  for (const [k, v] of envFor) sources[k] = v;

  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const details: ErrorDetail[] = parsed.error.issues.map((issue) => {
      const keyPath = issue.path.map(String).join('.') || '(root)';
      const fromEnv = envFor.get(keyPath);
      const unknownHint = issue.code === 'unrecognized_keys' ? ' (check the spelling against README.md)' : '';
      if (fromEnv) return { path: keyPath, message: `${issue.message} (from ${fromEnv})` };
      const at = issue.code === 'unrecognized_keys' && issue.keys[0] ? [...issue.path, issue.keys[0]] : issue.path;
      const line = lineOf(source, at);
      return {
        path: keyPath,
        message: `${issue.message}${unknownHint}`,
        ...(source && line !== undefined ? { file: source.file, line } : {}),
      };
    });
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `invalid configuration: ${details.length} problem(s)`, {
      details,
      hint: 'fix the keys listed above in the config file or the FHIRFED_* environment; see README.md "Configuration"',
    });
  }
  return { config: deepFreeze(parsed.data), warnings, sources };
}
