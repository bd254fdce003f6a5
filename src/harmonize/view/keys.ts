/**
 * getResourceKey() and getReferenceKey([type]) from SQL on FHIR v2. A key is the logical id: views read one resource
 * type each, so the id alone joins a resource to the references that point at it.
 */

/** The key of a resource, or undefined when the input is not a resource with an id. */
export function resourceKey(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return undefined;
  const o = r as { resourceType?: unknown; id?: unknown };
  return typeof o.resourceType === 'string' && typeof o.id === 'string' ? o.id : undefined;
}

const LITERAL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/**
 * The key of the resource a Reference points at; undefined for contained (`#x`) or logical-only references, and for
 * references to another type than `type` when one is given.
 */
export function referenceKey(ref: unknown, type?: string): string | undefined {
  if (typeof ref !== 'object' || ref === null) return undefined;
  const o = ref as { reference?: unknown; type?: unknown };
  if (typeof o.reference !== 'string') return undefined;
  let s = o.reference;
  const hist = s.indexOf('/_history/');
  if (hist >= 0) s = s.slice(0, hist);
  const m = LITERAL.exec(s);
  if (m) {
    if (type !== undefined && m[1] !== type) return undefined;
    return m[2];
  }
  if (s.startsWith('urn:uuid:') || s.startsWith('urn:oid:')) {
    if (type !== undefined && o.type !== type) return undefined;
    return s.slice(s.indexOf(':', 4) + 1);
  }
  return undefined;
}
