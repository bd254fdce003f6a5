import type { Logger } from '../../core/logger.js';
import { GroupCommitter, type Committer, type Ledger } from '../ledger/index.js';
import { PendingConverter } from '../pipeline.js';
import { LedgerThread } from './ledger-thread.js';

/**
 * Where the MLLP listener stores messages and converts them after the ACK. Off-thread (default): a writer thread
 * owns all ledger writes, so fsyncs never block socket reads and frames keep arriving during a commit. In-process:
 * group commit and background conversion on the listener's thread (`:memory:` ledgers, or when no thread starts).
 */
export interface MessageStore {
  readonly committer: Committer;
  /** New messages were stored (the in-process converter picks them up; the writer thread needs no signal). */
  stored(): void;
  /** Commits what is queued, converts what is left. */
  close(): Promise<void>;
}

function inProcess(ledger: Ledger, logger: Logger): MessageStore {
  const committer = new GroupCommitter(ledger);
  const converter = new PendingConverter(ledger, (e) => logger.error({ err: (e as Error).message }, 'mllp: background conversion failed'));
  converter.kick();
  return {
    committer,
    stored: () => converter.kick(),
    close: async () => {
      await committer.drain();
      await converter.drain();
    },
  };
}

export async function startStore(ledger: Ledger, logger: Logger, offThread: boolean): Promise<MessageStore> {
  if (!offThread || ledger.file === ':memory:' || ledger.options.readonly) return inProcess(ledger, logger);
  try {
    const thread = await LedgerThread.start(ledger, logger);
    return { committer: thread, stored: () => undefined, close: () => thread.close() };
  } catch (e) {
    logger.warn({ err: (e as Error).message }, 'mllp: no ledger writer thread, storing on the listener thread');
    return inProcess(ledger, logger);
  }
}
