#!/usr/bin/env node
import { Command } from 'commander';
import { register as registerServe } from './commands/serve.js';
import { register as registerWorker } from './commands/worker.js';
import { register as registerAggregator } from './commands/aggregator.js';
import { register as registerView } from './commands/view.js';
import { register as registerHl7 } from './commands/hl7.js';
import { register as registerMappings } from './commands/mappings.js';
import { register as registerIngest } from './commands/ingest.js';
import { register as registerTrain } from './commands/train.js';
import { register as registerStatus } from './commands/status.js';
import { register as registerPrivacy } from './commands/privacy.js';
import { register as registerDemo } from './commands/demo.js';
import { register as registerSecagg } from './commands/secagg.js';
import { VERSION } from '../core/version.js';

/** Builds the `fhirfed` command tree. Each command lives in its own file under ./commands. */
export function buildProgram(): Command {
  const program = new Command('fhirfed')
    .description('FHIR-native federated learning gateway for hospitals')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (str, write) => write(str) });
  for (const register of [
    registerServe,
    registerWorker,
    registerAggregator,
    registerView,
    registerHl7,
    registerMappings,
    registerIngest,
    registerTrain,
    registerStatus,
    registerPrivacy,
    registerDemo,
    registerSecagg,
  ]) {
    register(program);
  }
  return program;
}

await buildProgram().parseAsync(process.argv);
