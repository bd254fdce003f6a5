import net from 'node:net';
import tls from 'node:tls';
import { FhirfedError } from '../../core/errors.js';
import { frame, MllpFrameParser } from './framing.js';

/**
 * A small MLLP sender: one connection, messages sent in order, each promise resolving to the ACK text. Used by the
 * tests, the benchmark and the demo to play the hospital's interface engine.
 */

export interface MllpClientOptions {
  readonly host?: string;
  readonly port: number;
  /** Connect with TLS; `rejectUnauthorized: false` only for self-signed test certificates. */
  readonly tls?: Pick<tls.ConnectionOptions, 'ca' | 'rejectUnauthorized' | 'servername'>;
  /** Largest ACK accepted. @defaultValue 1 MiB */
  readonly maxAckBytes?: number;
}

export class MllpClient {
  private readonly waiting: { resolve: (ack: string) => void; reject: (e: Error) => void }[] = [];
  private closedError: Error | undefined;

  private constructor(
    private readonly socket: net.Socket,
    maxAckBytes: number,
  ) {
    const parser = new MllpFrameParser(maxAckBytes);
    socket.on('data', (chunk: Buffer) => {
      for (const ev of parser.push(chunk)) {
        if (ev.kind === 'frame') this.waiting.shift()?.resolve(ev.data.toString('utf8'));
      }
    });
    const fail = (e: Error): void => {
      this.closedError ??= e;
      for (const w of this.waiting.splice(0)) w.reject(e);
    };
    socket.on('error', (e: NodeJS.ErrnoException) =>
      fail(new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', `MLLP connection closed before the ACK arrived (${e.code ?? e.message})`)),
    );
    socket.on('close', () => fail(new FhirfedError('FHIRFED_ERR_DEPENDENCY_UNAVAILABLE', 'MLLP connection closed before the ACK arrived')));
  }

  static connect(options: MllpClientOptions): Promise<MllpClient> {
    const host = options.host ?? '127.0.0.1';
    const max = options.maxAckBytes ?? 1024 * 1024;
    return new Promise((resolve, reject) => {
      const socket = options.tls
        ? tls.connect({ host, port: options.port, ...options.tls }, () => resolve(new MllpClient(socket, max)))
        : net.connect({ host, port: options.port }, () => resolve(new MllpClient(socket, max)));
      socket.once('error', reject);
    });
  }

  /** Sends one message and resolves with its ACK (messages may be pipelined: ACKs return in order). */
  send(message: string | Buffer): Promise<string> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.socket.write(frame(message));
    });
  }

  /** Writes raw bytes (tests of framing robustness); pair with `nextAck`. */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  nextAck(): Promise<string> {
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.end();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
