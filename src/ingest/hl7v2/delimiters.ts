/**
 * HL7v2 encoding characters. They are read from each message's MSH-1 and MSH-2, never assumed, because real feeds
 * do use other characters than the defaults.
 */
export interface Delimiters {
  /** MSH-1, usually `|`. */
  readonly field: string;
  /** MSH-2[0], usually `^`. */
  readonly component: string;
  /** MSH-2[1], usually `~`. */
  readonly repetition: string;
  /** MSH-2[2], usually `\`; empty when the message declares no escape character. */
  readonly escape: string;
  /** MSH-2[3], usually `&`; empty when the message declares none. */
  readonly subComponent: string;
}

export const DEFAULT_DELIMITERS: Delimiters = Object.freeze({
  field: '|',
  component: '^',
  repetition: '~',
  escape: '\\',
  subComponent: '&',
});

/** MSH-2 as it is written in a header built from these delimiters. */
export function encodingCharacters(d: Delimiters): string {
  return d.component + d.repetition + d.escape + d.subComponent;
}

/**
 * Reads the delimiters from the start of a header segment (`MSH|^~\&|...`, also FHS/BHS).
 * Returns a reason string instead of throwing so the parser can attach the location.
 */
export function readDelimiters(header: string): Delimiters | string {
  if (header.length < 5) return 'the header segment is too short to hold MSH-1 and MSH-2';
  const field = header.charAt(3);
  if (/[A-Za-z0-9\s]/.test(field)) return `MSH-1 field separator '${field}' must not be a letter, digit or space`;
  const end = header.indexOf(field, 4);
  const enc = end === -1 ? header.slice(4) : header.slice(4, end);
  if (enc.length < 2) return `MSH-2 encoding characters '${enc}' must hold at least the component and repetition characters`;
  if (enc.length > 5) return `MSH-2 encoding characters '${enc}' are longer than 5 characters`;
  // A letter or digit as a delimiter would split the values it must carry (MSH-9 'ACK', MSH-12 '2.5.1').
  const bad = /[A-Za-z0-9\s]/.exec(enc.slice(0, 4));
  if (bad) return `MSH-2 encoding character '${bad[0]}' must not be a letter, digit or space`;
  const component = enc.charAt(0);
  const repetition = enc.charAt(1);
  const escape = enc.charAt(2);
  const subComponent = enc.charAt(3);
  const all = [field, component, repetition, escape, subComponent].filter((c) => c !== '');
  if (new Set(all).size !== all.length) return `MSH-1/MSH-2 delimiters '${field}${enc}' are not distinct`;
  return { field, component, repetition, escape, subComponent };
}
