/** HTML of the mapping workbench: the input form, the run's result, validate and coverage tables. */
import type { FeatureValue } from '../harmonize/harmonize.js';
import type { CoverageReport } from '../harmonize/report.js';
import { errorBox, esc, num, pct, postForm, raw, table } from './html.js';
import type { ValidateOutcome, WorkbenchOutcome, WorkbenchProblem } from './workbench.js';

/** Pseudonyms are keyed hashes, but still the join key of a patient's row: show only a prefix. */
export function truncatePseudonym(key: string): string {
  return key.length > 12 ? `${key.slice(0, 12)}…` : key;
}

function value(v: FeatureValue | undefined): string {
  if (v === null || v === undefined) return 'missing';
  return typeof v === 'number' ? num(v, 4) : String(v);
}

export function problemsHtml(title: string, problems: readonly WorkbenchProblem[]): string {
  return `<section aria-labelledby="problems-h"><h2 id="problems-h">${esc(title)}</h2>${problems
    .map((p) => errorBox(p.message, { code: p.code, ...(p.where ? { where: p.where } : {}), ...(p.hint ? { hint: p.hint } : {}) }))
    .join('')}</section>`;
}

export function coverageTables(r: CoverageReport, prefix: string): string {
  const features = table(
    `Features: fill rate over ${r.rows} patient row(s) from ${r.resources} resource(s)`,
    ['feature', 'label', 'mapped', 'filled', 'fill rate', 'source values', 'quarantined', 'source units'],
    r.features.map((f) => [
      f.name,
      f.label ? 'yes' : '',
      f.mapped ? 'yes' : 'no',
      f.mapped ? f.filled : '',
      f.mapped ? pct(f.fillRate) : '',
      f.mapped ? f.sourceValues : '',
      f.mapped ? f.quarantined : '',
      Object.entries(f.units)
        .map(([u, n]) => `${u} (${n})`)
        .join(', '),
    ]),
    { id: `${prefix}-features` },
  );
  const quarantine = table('Quarantined values by reason', ['reason code', 'values'], Object.entries(r.quarantine).sort((a, b) => b[1] - a[1]), {
    empty: 'Quarantined values: none',
    id: `${prefix}-quarantine`,
  });
  const unmapped = table(
    `Unmapped codes (${r.unmappedCodes.length}${r.unmappedCodes.length > 100 ? ', first 100' : ''})`,
    ['code', 'view', 'rows'],
    r.unmappedCodes.slice(0, 100).map((u) => [u.code, u.view, u.count]),
    { empty: 'Unmapped codes: none', id: `${prefix}-unmapped` },
  );
  const unused = table('Resources no view reads', ['resource type', 'count'], Object.entries(r.resourcesUnused), { empty: 'Every resource type is read by a view.' });
  const noPatient = r.rowsWithoutPatient > 0 ? `<p>View rows without a patient reference (dropped): ${r.rowsWithoutPatient}</p>` : '';
  return `${features}${quarantine}${unmapped}${unused}${noPatient}`;
}

function resultHtml(outcome: WorkbenchOutcome): string {
  if (!outcome.ok) {
    return problemsHtml(outcome.stage === 'input' ? 'The input could not be read' : "This site's mapping files do not load", outcome.problems);
  }
  const r = outcome.result;
  const schema = r.mapping.schema;
  const types = Object.entries(r.resourceTypes)
    .map(([t, n]) => `${t} ${n}`)
    .join(', ');
  const rows = r.rows.map((row, i) => {
    const cells = schema.names.map((name) => {
      const spec = schema.features.get(name);
      const p = row.provenance[name];
      return [
        spec?.label ? `${name} (label)` : name,
        raw(`<span class="value">${esc(value(row.values[name]))}</span>`),
        spec?.unit ?? '',
        p?.resourceKey ?? '',
        p?.column ?? '',
        p ? p.chain.join(' → ') : '',
      ];
    });
    const q = table(
      `Quarantined values for patient ${truncatePseudonym(row.key)}`,
      ['feature', 'reason code', 'reason'],
      row.quarantined.map((x) => [x.feature, x.code, x.reason]),
      { empty: 'No value of this patient was quarantined.', id: `quarantined-${i}` },
    );
    return `<h3>Patient ${esc(truncatePseudonym(row.key))}</h3>${table(
      `Feature row ${i + 1} (values in schema units) with provenance`,
      ['feature', 'value', 'unit', 'source resource', 'view column', 'transformer chain'],
      cells,
      { id: `feature-row-${i}` },
    )}${q}`;
  });
  const warnings = r.warnings.length ? `<ul class="muted">${r.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  return `<section aria-labelledby="result-h"><h2 id="result-h">Result</h2>
<p>Read as <strong>${r.kind === 'hl7v2' ? 'HL7v2' : 'FHIR'}</strong>: ${esc(types || 'no resources')} → ${r.rows.length} feature row(s) for site <code>${esc(r.mapping.site)}</code>.</p>
${rows.join('') || '<p class="empty">No feature row: no view of this site reads a patient from this input.</p>'}
<h3>Whole input</h3>${coverageTables(r.report, 'run')}${warnings}
<details open><summary>FHIR ${r.kind === 'hl7v2' ? 'the message becomes' : 'as read'}</summary><pre id="fhir-output">${esc(JSON.stringify(r.fhir, null, 2))}</pre></details></section>`;
}

export function validateHtml(v: ValidateOutcome): string {
  const status = v.problems.length === 0 ? '<p class="notice" role="status">The mapping files are valid.</p>' : '';
  return `<section aria-labelledby="validate-h"><h2 id="validate-h">Validate: this site's mapping files</h2>${status}
${table(`Problems (${v.problems.length})`, ['file (line, field)', 'code', 'problem'], v.problems.map((p) => [p.where ?? '', p.code, p.message]), { empty: 'Problems: none', id: 'validate-problems' })}
${table('Warnings', ['warning'], v.warnings.map((w) => [w]), { empty: 'Warnings: none' })}
${table('Checked', ['what'], v.summary.map((s) => [s]), { empty: 'Nothing checked: the files did not load.' })}</section>`;
}

export interface WorkbenchView {
  readonly action: string;
  readonly csrf: string;
  readonly site: string;
  readonly input?: string;
  readonly outcome?: WorkbenchOutcome;
  /** Extra section (validate or coverage result). */
  readonly extra?: string;
}

export function workbenchBody(v: WorkbenchView): string {
  return `<p>Paste an HL7v2 message or a FHIR resource, Bundle or NDJSON and see what this site's mappings make of it. The mapping files are read from disk on every run: edit, then run again.</p>
<form method="post" action="${esc(v.action)}" id="workbench-form">
<input type="hidden" name="_csrf" value="${esc(v.csrf)}">
<label for="input">Message (HL7v2 or FHIR JSON)</label>
<textarea id="input" name="input" required spellcheck="false" aria-describedby="input-help">${esc(v.input ?? '')}</textarea>
<p id="input-help" class="muted">Nothing you paste is stored: the run happens in memory. Pseudonyms use this site's secret and are shown truncated.</p>
<label for="file">Or load a file into the box</label>
<input id="file" type="file" accept=".hl7,.er7,.txt,.msg,.json,.ndjson">
<div class="actions"><button type="submit">Convert and harmonize</button></div>
</form>
<div class="actions">${postForm(`${v.action}/validate`, v.csrf, 'Validate mapping files', {}, 'secondary')}${postForm(`${v.action}/coverage`, v.csrf, 'Dry-run coverage over the ledger')}</div>
${v.outcome ? resultHtml(v.outcome) : ''}${v.extra ?? ''}`;
}

/** Reads a chosen file into the textarea in the browser; nothing is uploaded until the form is submitted. */
export const WORKBENCH_SCRIPT = `(function(){var f=document.getElementById('file'),t=document.getElementById('input');
if(!f||!t)return;f.addEventListener('change',function(){var file=f.files&&f.files[0];if(!file)return;
if(file.size>2*1024*1024){alert('That file is larger than 2 MiB; use fhirfed mappings dry-run for data sets.');f.value='';return;}
var r=new FileReader();r.onload=function(){t.value=String(r.result);t.focus();};r.readAsText(file);});})();`;
