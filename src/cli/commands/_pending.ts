import type { Command } from 'commander';
import { notImplemented } from '../../core/errors.js';
import { action } from '../run.js';

/** Marks a command whose capability a later release provides: clear message, exit code 2. */
export function pending(cmd: Command, what: string): Command {
  return cmd.allowUnknownOption(true).allowExcessArguments(true).action(
    action(() => {
      throw notImplemented(what);
    }),
  );
}
