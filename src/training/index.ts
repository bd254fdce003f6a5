/** Local training: the public surface other layers (api, cli, federation client) import. */
export { initBackend, currentBackend, type BackendInfo, type BackendName } from './backend.js';
export { TrainingHyperSchema, parseHyper, type TrainingHyper, type TrainingHyperInput } from './hyper.js';
export { MultiTaskModel, computeDelta } from './model.js';
export { stratifiedSplit } from './split.js';
export { auroc, bestF1Threshold, f1Score, accuracy, logLoss, EarlyStopping } from './metrics.js';
export { trainLocal, type TrainLocalOptions, type TrainLocalResult } from './trainer.js';
export { runLocalRounds, type LocalRoundsOptions } from './local-run.js';
export { RedisSubmissionStore, type SubmissionStore } from './submissions.js';
export {
  TRAINING_QUEUE,
  TRAINING_JOB_DEFAULTS,
  TrainingJobDataSchema,
  closeTrainingWorker,
  createTrainingQueue,
  createTrainingWorker,
  enqueueTrainingJob,
  execTrainingJob,
  getQueueState,
  getTrainingWorker,
  initTrainingWorker,
  jobIdFor,
  type GlobalModelSource,
  type InitTrainingWorkerOptions,
  type TrainingJobData,
  type TrainingJobResult,
  type TrainingQueueState,
  type TrainingUpdate,
  type TrainingWorkerHandle,
} from './queue.js';
export type { DpSgdPlan, DpSgdReport, FeatureSpec, HeadMetrics, PrivacyHook, RowSource, SampleLevelPrivacy, TrainingRow, WeightLayout } from './types.js';
export { evaluateModel, initialModelWeights } from './evaluate.js';
