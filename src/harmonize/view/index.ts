/** SQL on FHIR v2 ViewDefinition engine: compile a view once, evaluate it per resource. */
export { compileView } from './compile.js';
export type { CompiledView, CompileViewOptions, ViewColumn } from './types.js';
