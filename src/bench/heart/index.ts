/** UCI Heart Disease for the federated benchmark: FLamby's protocol as data, rendered into FHIR and HL7 v2 inputs. */
export {
  DEFAULT_HEART_DIR,
  HEART_CENTERS,
  TRAIN_FRACTION,
  approximateMode,
  loadHeartDisease,
  stratifiedTestSet,
  type HeartCenter,
  type HeartDataset,
  type HeartRow,
  type HeartSite,
  type HeartSiteId,
  type LoadHeartOptions,
  type Split,
} from './load.js';
export { HEART_FORMAT, heartSiteResources, renderHeartDataset, renderHeartSite, splitsByRowKey, writeRenderedHeartSite, type RenderedHeartSite } from './render.js';
export { HEART_INDEX_DATE, cholesterolMmolPerL } from './codes.js';
