/**
 * HTML building blocks for the console. Every value that reaches a page goes through `esc` (or is a number
 * formatted here), so a pasted message containing markup is shown as text, never interpreted. Pages are plain
 * server-rendered documents: one inline stylesheet and at most one inline script, both carrying the per-response
 * CSP nonce, and no URL that leaves the origin.
 */

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** A number for a table cell: integers as they are, others to `digits` significant places; blanks for null/NaN. */
export function num(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '';
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(digits)));
}

export function pct(value: number | null | undefined): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '' : `${(value * 100).toFixed(1)}%`;
}

/** Raw HTML that has already been built from escaped parts. */
export interface Html {
  readonly html: string;
}

export const raw = (html: string): Html => ({ html });
const cellHtml = (v: unknown): string => (typeof v === 'object' && v !== null && 'html' in v ? (v as Html).html : esc(v));

/** An accessible table: caption, column headers with scope, first cell of each row as a row header. */
export function table(caption: string, head: readonly string[], rows: readonly (readonly unknown[])[], opts: { empty?: string; id?: string } = {}): string {
  if (rows.length === 0) return `<p class="empty"${opts.id ? ` id="${esc(opts.id)}"` : ''}>${esc(opts.empty ?? `${caption}: none`)}</p>`;
  const body = rows
    .map((r) => `<tr>${r.map((v, i) => (i === 0 ? `<th scope="row">${cellHtml(v)}</th>` : `<td>${cellHtml(v)}</td>`)).join('')}</tr>`)
    .join('');
  return `<table${opts.id ? ` id="${esc(opts.id)}"` : ''}><caption>${esc(caption)}</caption><thead><tr>${head
    .map((h) => `<th scope="col">${esc(h)}</th>`)
    .join('')}</tr></thead><tbody>${body}</tbody></table>`;
}

/** A POST form with the session's CSRF token; `fields` are hidden inputs. */
export function postForm(action: string, csrf: string, label: string, fields: Readonly<Record<string, string>> = {}, cls = ''): string {
  const hidden = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join('');
  return `<form method="post" action="${esc(action)}" class="inline"><input type="hidden" name="_csrf" value="${esc(csrf)}">${hidden}<button type="submit"${cls ? ` class="${esc(cls)}"` : ''}>${esc(label)}</button></form>`;
}

export interface NavItem {
  readonly href: string;
  readonly label: string;
}

export interface PageOptions {
  readonly title: string;
  readonly nonce: string;
  /** Shown in the header (site id or `aggregator`). */
  readonly who: string;
  readonly nav?: readonly NavItem[];
  /** The current page's href, marked with aria-current. */
  readonly current?: string;
  /** Logout form (needs the CSRF token); absent on the login page. */
  readonly logout?: { readonly action: string; readonly csrf: string };
  readonly body: string;
  readonly script?: string;
}

const CSS = `
:root{color-scheme:light;--fg:#1d1d1f;--muted:#555;--line:#c8c8c8;--accent:#0b57d0;--bad:#a50e0e;--ok:#0d652d;--bg2:#f4f5f7}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--fg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;padding:.6rem 1.2rem;background:#10243e;color:#fff}
header .brand{font-weight:700}header nav ul{display:flex;gap:.2rem;list-style:none;margin:0;padding:0}
header nav a{color:#fff;padding:.3rem .6rem;border-radius:4px;text-decoration:none}
header nav a[aria-current=page]{background:#2d4a70}header nav a:focus-visible,header button:focus-visible{outline:3px solid #ffd54f}
header .who{margin-left:auto;font-size:.9rem}header form{margin:0}
main{padding:1rem 1.2rem;max-width:1280px}h1{font-size:1.5rem;margin:.2rem 0 1rem}h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
h3{font-size:1.05rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}caption{text-align:left;font-weight:600;padding:.2rem 0}
th,td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top}thead th{background:var(--bg2)}
tbody th{font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
label{display:block;font-weight:600;margin:.6rem 0 .2rem}textarea{width:100%;min-height:14rem;font:13px/1.35 ui-monospace,Menlo,Consolas,monospace}
input[type=password],input[type=text]{font:inherit;padding:.35rem;width:min(32rem,100%)}
button{font:inherit;padding:.35rem .9rem;border:1px solid var(--accent);background:var(--accent);color:#fff;border-radius:4px;cursor:pointer}
button.secondary{background:#fff;color:var(--accent)}button:focus-visible,a:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #f9ab00;outline-offset:1px}
form.inline{display:inline}.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.6rem 0}
pre{background:var(--bg2);padding:.6rem;overflow:auto;max-height:28rem;font-size:12px}
.error{border-left:4px solid var(--bad);background:#fce8e6;padding:.5rem .8rem;margin:.6rem 0}
.notice{border-left:4px solid var(--ok);background:#e6f4ea;padding:.5rem .8rem;margin:.6rem 0}
.empty{color:var(--muted)}.muted{color:var(--muted)}.charts{display:flex;flex-wrap:wrap;gap:1rem}
.charts figure{margin:0}.charts figcaption{font-size:.85rem;color:var(--muted)}
.skip{position:absolute;left:-999px}.skip:focus{left:.5rem;top:.5rem;background:#fff;color:#000;padding:.3rem;z-index:2}
.kv{display:grid;grid-template-columns:max-content auto;gap:.15rem 1rem}.kv dt{font-weight:600}.kv dd{margin:0}
`;

export function page(o: PageOptions): string {
  const nav = (o.nav ?? [])
    .map((n) => `<li><a href="${esc(n.href)}"${n.href === o.current ? ' aria-current="page"' : ''}>${esc(n.label)}</a></li>`)
    .join('');
  const logout = o.logout
    ? `<form method="post" action="${esc(o.logout.action)}"><input type="hidden" name="_csrf" value="${esc(o.logout.csrf)}"><button type="submit" class="secondary">Log out</button></form>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin"><title>${esc(o.title)} · fhirfed console</title>
<style nonce="${esc(o.nonce)}">${CSS}</style></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><span class="brand">fhirfed console</span>${nav ? `<nav aria-label="Console sections"><ul>${nav}</ul></nav>` : ''}<span class="who">${esc(o.who)}</span>${logout}</header>
<main id="main" tabindex="-1"><h1>${esc(o.title)}</h1>
${o.body}
</main>${o.script ? `<script nonce="${esc(o.nonce)}">${o.script}</script>` : ''}</body></html>
`;
}

/** A problem shown on a page: message, where, and what to do. */
export function errorBox(message: string, opts: { code?: string; where?: string; hint?: string } = {}): string {
  return `<div class="error" role="alert"><p><strong>${esc(opts.code ?? 'error')}</strong>: ${esc(message)}</p>${
    opts.where ? `<p>Where: <code>${esc(opts.where)}</code></p>` : ''
  }${opts.hint ? `<p>How to fix: ${esc(opts.hint)}</p>` : ''}</div>`;
}
