import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { Config } from '../../config/schema.js';
import { FhirfedError, isFhirfedError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import {
  ackCode,
  ackErrorFrom,
  ackMode,
  ackSourceOfRaw,
  buildAck,
  hl7Text,
  parseHl7,
  wantsAck,
  type AckError,
  type AckOutcome,
  type Hl7Message,
} from '../hl7v2/index.js';
import type { Committer, Ledger, LedgerEntry, WriteResult } from '../ledger/index.js';
import { hl7Entry } from '../pipeline.js';
import { frame, MllpFrameParser, type FrameEvent } from './framing.js';
import { startStore, type MessageStore } from './store.js';

/**
 * The HL7v2 MLLP listener. For each frame: size check (AR), parse (AE naming segment and field), record in the
 * ledger through group commit, and only when that transaction has committed answer AA (or CA in enhanced mode).
 * A storage failure answers AE, never AA, so the sender keeps the message. Duplicates of an already stored MSH-10
 * are answered AA and not stored twice. ACKs on a connection leave in the order its frames arrived.
 */

export interface MllpListenerDeps {
  readonly config: Config;
  readonly ledger: Ledger;
  readonly logger: Logger;
  /** Called after a message is durably stored (or recognised as a duplicate). */
  readonly onStored?: (result: WriteResult, entry: LedgerEntry) => void;
  /**
   * Store (commit + fsync) and convert v2 -> FHIR on a ledger writer thread, so the listener's thread keeps reading
   * sockets during each fsync and commits grow with the load; false keeps both on the listener's thread.
   * @defaultValue true
   */
  readonly convertInWorker?: boolean;
}

export interface MllpListener {
  readonly port: number;
  readonly tls: boolean;
  readonly committer: Committer;
  close(): Promise<void>;
}

type Mllp = Config['mllp'];

function ackFrame(msgOrRaw: Hl7Message | string, code: AckOutcome, mode: Mllp['ackMode'], error?: AckError): Buffer | undefined {
  if (typeof msgOrRaw === 'string') {
    const c = ackCode(mode, 'accept', code);
    return frame(buildAck(ackSourceOfRaw(msgOrRaw), { code: c, ...(error ? { error } : {}) }));
  }
  // Enhanced mode (configured, or asked for by the sender in MSH-15/16) answers the accept stage, honouring MSH-15.
  const enhanced = mode === 'enhanced' || ackMode(msgOrRaw) === 'enhanced';
  if (enhanced && ackMode(msgOrRaw) === 'enhanced' && !wantsAck(msgOrRaw, 'accept', code)) return undefined;
  const c = ackCode(enhanced ? 'enhanced' : 'original', 'accept', code);
  return frame(buildAck(msgOrRaw, { code: c, ...(error ? { error } : {}) }));
}

export async function startMllpListener(deps: MllpListenerDeps): Promise<MllpListener> {
  const { config, ledger, logger } = deps;
  const cfg = config.mllp;
  // Set once the configuration checks below have passed, so a refused config leaves no thread behind.
  const held: { store?: MessageStore } = {};
  const sockets = new Set<net.Socket>();
  const useTls = Boolean(cfg.tlsCertFile || cfg.tlsKeyFile);

  const handleFrame = async (ev: FrameEvent): Promise<Buffer | undefined> => {
    if (ev.kind === 'oversized') {
      const head = ev.head.toString('latin1');
      logger.warn({ bytes: ev.size, limit: cfg.maxMessageBytes }, 'mllp: oversized message refused');
      return ackFrame(head, 'reject', cfg.ackMode, {
        code: '207',
        message: `message of ${ev.size} bytes exceeds the limit of ${cfg.maxMessageBytes} bytes (mllp.maxMessageBytes)`,
      });
    }
    if (ev.kind !== 'frame') return undefined;
    let text: string;
    let msg: Hl7Message;
    try {
      text = hl7Text(ev.data);
      msg = parseHl7(text);
    } catch (e) {
      logger.info({ code: isFhirfedError(e) ? e.code : 'unknown', where: isFhirfedError(e) ? e.where : undefined }, 'mllp: unparseable message');
      return ackFrame(ev.data.toString('latin1'), 'error', cfg.ackMode, ackErrorFrom(e));
    }
    try {
      const entry = hl7Entry(msg, text, { convert: false });
      const store = held.store as MessageStore;
      const result = await store.committer.submit(entry);
      if (!result.duplicate) store.stored();
      deps.onStored?.(result, entry);
      return ackFrame(msg, 'success', cfg.ackMode);
    } catch (e) {
      logger.error({ code: isFhirfedError(e) ? e.code : 'unknown', err: (e as Error).message }, 'mllp: could not store message; answering AE');
      const err = isFhirfedError(e) ? e : new FhirfedError('FHIRFED_ERR_LEDGER', 'the message could not be stored');
      return ackFrame(msg, 'error', cfg.ackMode, { code: '207', message: `not stored, resend later: ${err.message}` });
    }
  };

  const onConnection = (socket: net.Socket): void => {
    if (sockets.size >= cfg.maxConnections) {
      logger.warn({ limit: cfg.maxConnections, remote: socket.remoteAddress }, 'mllp: connection refused, limit reached (mllp.maxConnections)');
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.setNoDelay(true);
    const parser = new MllpFrameParser(cfg.maxMessageBytes);
    // ACKs leave in frame order although frames are processed (and group-committed) concurrently.
    let tail: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      for (const ev of parser.push(chunk)) {
        if (ev.kind === 'garbage') {
          logger.debug({ bytes: ev.bytes }, 'mllp: bytes outside a frame skipped');
          continue;
        }
        const ack = handleFrame(ev);
        tail = tail
          .then(() => ack)
          .then((buf) => {
            if (buf && !socket.destroyed) socket.write(buf);
          })
          .catch((e: unknown) => logger.error({ err: (e as Error).message }, 'mllp: ack failed'));
      }
    });
    socket.on('error', (e) => logger.debug({ err: e.message }, 'mllp: socket error'));
    socket.on('close', () => sockets.delete(socket));
  };

  let server: net.Server;
  if (useTls) {
    if (!cfg.tlsCertFile || !cfg.tlsKeyFile) {
      throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', 'MLLP over TLS needs both mllp.tlsCertFile and mllp.tlsKeyFile', {
        where: { path: cfg.tlsCertFile ? 'mllp.tlsKeyFile' : 'mllp.tlsCertFile' },
        hint: 'set both to PEM files, or neither for plain TCP',
      });
    }
    server = tls.createServer({ cert: readPem(cfg.tlsCertFile, 'mllp.tlsCertFile'), key: readPem(cfg.tlsKeyFile, 'mllp.tlsKeyFile') });
    server.on('secureConnection', onConnection);
    server.on('tlsClientError', (e) => logger.info({ err: e.message }, 'mllp: TLS handshake failed'));
  } else {
    server = net.createServer(onConnection);
  }

  const store = await startStore(ledger, logger, deps.convertInWorker ?? true);
  held.store = store;
  const committer = store.committer;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `cannot listen for MLLP on ${cfg.host}:${cfg.port} (${e.code ?? e.message})`, {
          where: { path: 'mllp.port' },
          hint: e.code === 'EADDRINUSE' ? 'another process uses this port: pick another with FHIRFED_MLLP_PORT' : 'check mllp.host',
        }),
      ),
    );
    server.listen(cfg.port, cfg.host, () => resolve());
  }).catch(async (e: unknown) => {
    await store.close();
    throw e;
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : cfg.port;
  logger.info({ port, tls: useTls, ackMode: cfg.ackMode }, 'mllp listening');

  return {
    port,
    tls: useTls,
    committer,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Let in-flight messages commit and their ACKs leave before the sockets go.
      await committer.drain();
      for (const s of sockets) s.end();
      await store.close();
      setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, 1000).unref();
      await closed;
    },
  };
}

function readPem(file: string, path: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new FhirfedError('FHIRFED_ERR_CONFIG_INVALID', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
      where: { path, file },
      hint: 'point it at a readable PEM file (a mounted Kubernetes Secret)',
    });
  }
}
