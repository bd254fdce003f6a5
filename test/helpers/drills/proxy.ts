/**
 * A recording TCP proxy (node:net) between gateways and the aggregator: every byte each client sends is kept, in
 * order per connection, so a test can search the complete egress. The proxy can be pointed at a new upstream
 * port, and refuses connections while the upstream is down (the client sees a reset, as with a dead aggregator).
 */
import net from 'node:net';

export interface RecordingProxy {
  readonly port: number;
  /** Client -> upstream bytes, one buffer per connection. */
  readonly sent: Buffer[][];
  /** Everything sent so far, all connections concatenated. */
  allSent(): Buffer;
  close(): Promise<void>;
}

export async function startRecordingProxy(upstreamPort: number, host = '127.0.0.1'): Promise<RecordingProxy> {
  const sent: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    sent.push(chunks);
    const upstream = net.connect(upstreamPort, host);
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => client.write(d));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, host, () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    sent,
    allSent: () => Buffer.concat(sent.flat()),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** `POST <path>` requests in the captured bytes with the value of a JSON number field of each body. */
export function postsWithField(bytes: Buffer, path: string, field: string): number[] {
  const text = bytes.toString('latin1');
  const parts = text.split(`POST ${path} HTTP/1.1`).slice(1);
  return parts.map((p) => {
    const m = new RegExp(`"${field}":(\\d+)`).exec(p);
    return m ? Number(m[1]) : NaN;
  });
}
