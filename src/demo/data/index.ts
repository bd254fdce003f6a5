/** Synthetic data for `fhirfed demo`: four hospitals, their transports and quirks, and the ground truth behind them. */
export { generateFederation, toNdjson, DEMO_SITES, type DemoSite, type FederationOptions, type Transport } from './sites.js';
export { writeDemoSite, type WrittenSite } from './write.js';
export type { PatientTruth, ClinicalEvent, Analyte } from './record.js';
export {
  ADVERSE_COEFFICIENTS,
  RESPONSE_COEFFICIENTS,
  STANDARDISE,
  adverseLogit,
  responseLogit,
  percentToMmolPerMol,
  mmolPerMolToPercent,
  type TrueFeatures,
  type PopulationProfile,
} from './model.js';
export { HOSPITAL_C } from './hl7-site.js';
export { demoSiteResources, patientKeys } from './resources.js';
