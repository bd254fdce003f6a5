import { z } from 'zod';
import { configSchema } from './schema.js';

/** One settable leaf of the configuration: its key path, env variable, JSON-schema facts for docs and coercion. */
export interface ConfigLeaf {
  readonly path: readonly string[];
  readonly env: string;
  readonly type: string;
  readonly itemType?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly constraints: string;
}

interface JsonSchemaNode {
  type?: string | string[];
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
  format?: string;
  minLength?: number;
}

/** Environment variables fhirfed reads that are not configuration leaves. */
export const NON_CONFIG_ENV = new Set([
  'FHIRFED_CONFIG',
  'FHIRFED_DEBUG',
  'FHIRFED_SITE_SECRET',
  'FHIRFED_TOKEN',
  'FHIRFED_AGGREGATOR_TOKEN',
]);

export function envNameFor(path: readonly string[]): string {
  return `FHIRFED_${path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2')).join('_').toUpperCase()}`;
}

function describeConstraints(n: JsonSchemaNode): string {
  const c: string[] = [];
  if (n.enum) c.push(`one of ${n.enum.map((v) => `\`${String(v)}\``).join(', ')}`);
  if (n.minimum !== undefined) c.push(`>= ${n.minimum}`);
  if (n.exclusiveMinimum !== undefined) c.push(`> ${n.exclusiveMinimum}`);
  if (n.maximum !== undefined) c.push(`<= ${n.maximum}`);
  if (n.exclusiveMaximum !== undefined) c.push(`< ${n.exclusiveMaximum}`);
  if (n.format === 'uri') c.push('http(s) URL');
  if (n.pattern && !n.enum) c.push(`matches \`${n.pattern}\``);
  return c.join(', ');
}

function collect(node: JsonSchemaNode, path: string[], out: ConfigLeaf[]): void {
  if (node.type === 'object' && node.properties) {
    for (const [k, child] of Object.entries(node.properties)) collect(child, [...path, k], out);
    return;
  }
  const type = Array.isArray(node.type) ? node.type.join('|') : (node.type ?? (node.enum ? 'string' : 'any'));
  out.push({
    path,
    env: envNameFor(path),
    type: type === 'integer' ? 'integer' : type,
    ...(node.items?.type ? { itemType: String(node.items.type) } : {}),
    ...(node.description ? { description: node.description } : {}),
    ...(node.default !== undefined ? { default: node.default } : {}),
    ...(node.enum ? { enum: node.enum } : {}),
    constraints: describeConstraints(node),
  });
}

let leavesCache: readonly ConfigLeaf[] | undefined;

/** Every configuration leaf, in schema order. */
export function configLeaves(): readonly ConfigLeaf[] {
  if (!leavesCache) {
    const js = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
    const out: ConfigLeaf[] = [];
    collect(js, [], out);
    leavesCache = Object.freeze(out);
  }
  return leavesCache;
}

function coerceScalar(raw: string, type: string): unknown {
  const s = raw.trim();
  if (type === 'number' || type === 'integer') return s !== '' && Number.isFinite(Number(s)) ? Number(s) : raw;
  if (type === 'boolean') {
    if (/^(true|1|yes|on)$/i.test(s)) return true;
    if (/^(false|0|no|off)$/i.test(s)) return false;
    return raw;
  }
  return raw;
}

/**
 * Turns an environment string into the leaf's type. A value that cannot be coerced is passed through unchanged so
 * that schema validation reports it with the key path (and the loader adds which variable it came from).
 */
export function coerceEnvValue(raw: string, leaf: ConfigLeaf): unknown {
  if (leaf.type === 'array') {
    const s = raw.trim();
    if (s.startsWith('[')) {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        return raw;
      }
    }
    if (s === '') return [];
    return s.split(',').map((x) => coerceScalar(x.trim(), leaf.itemType ?? 'string'));
  }
  return coerceScalar(raw, leaf.type);
}
