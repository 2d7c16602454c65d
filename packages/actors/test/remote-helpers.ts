// Shared pieces of the remote-*.test.ts files: the server child process, clients torn down with
// their test, a raw ws server that speaks only the handshake, and error capture.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pack, unpackMultiple } from 'msgpackr';
import WebSocket, { WebSocketServer } from 'ws';
import { PROTOCOL_VERSION, Remoting, type RemotingOptions } from '../src/index.js';
import { startFixture, type Child } from './harness.js';

export type Teardown = Parameters<typeof startFixture>[0];

/** A `fixtures/remote-server` process and where it listens. */
export interface ServerChild {
  child: Child;
  port: number;
  url: string;
}

/** Starts the server fixture (killed at teardown) and waits until it listens. */
export async function startServer(t: Teardown, args: string[] = []): Promise<ServerChild> {
  const child = startFixture(t, 'remote-server', args);
  const died = child.exited.then(({ code, signal }) => {
    throw new Error(`server fixture exited (code ${code}, signal ${signal}) before it listened`);
  });
  const line = await Promise.race([child.waitForLine((l) => l.startsWith('listening '), 'the server fixture to listen', 15_000), died]);
  const port = Number(line.split(' ')[1]);
  return { child, port, url: `ws://127.0.0.1:${port}` };
}

/** Kills a server child at once (no goodbye on its sockets) and waits until it is gone. */
export async function killServer(server: ServerChild): Promise<void> {
  server.child.process.kill('SIGKILL');
  await server.child.exited;
}

/** A `Remoting` closed when the test ends. */
export function newRemoting(t: Teardown, options: RemotingOptions = {}): Remoting {
  const remoting = new Remoting(options);
  t.teardown(() => remoting.close());
  return remoting;
}

/** The error `promise` rejects with; throws if it resolves instead. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  let value: unknown;
  try {
    value = await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}

/** The error `fn` throws; throws if it returns instead. */
export function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a throw, got a return');
}

/** What a raw server answers a hello with: a welcome (fields overridable), or nothing until told. */
export type HelloAnswer = { welcome: { v?: number; maxFrame?: number } } | 'hold';

/** One connection accepted by a `RawServer`. */
export interface RawConnection {
  socket: WebSocket;
  hello: Record<string, unknown>;
  /** Every binary frame after the hello, each decoded into its envelopes. */
  frames: Record<string, unknown>[][];
  /** The size in bytes of each of those frames. */
  frameBytes: number[];
  /** Sends envelopes back to back in one frame. */
  send(...envelopes: unknown[]): void;
  closed: Promise<void>;
}

/** A ws server that speaks only the handshake and records what clients send. */
export interface RawServer {
  url: string;
  connections: RawConnection[];
}

/** Starts a raw server on 127.0.0.1 (closed at teardown). */
export async function startRawServer(t: Teardown, answer: HelloAnswer = { welcome: {} }): Promise<RawServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const connections: RawConnection[] = [];
  wss.on('connection', (socket) => {
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.once('message', (data: Buffer) => {
      const hello = unpackMultiple(data)[0] as Record<string, unknown>;
      const connection: RawConnection = {
        socket,
        hello,
        frames: [],
        frameBytes: [],
        send: (...envelopes) => socket.send(Buffer.concat(envelopes.map((envelope) => pack(envelope))), { binary: true }),
        closed,
      };
      socket.on('message', (frame: Buffer) => {
        connection.frameBytes.push(frame.length);
        connection.frames.push(unpackMultiple(frame) as Record<string, unknown>[]);
      });
      connections.push(connection);
      if (answer !== 'hold') {
        connection.send({
          t: 'welcome',
          v: answer.welcome.v ?? PROTOCOL_VERSION,
          name: 'raw',
          maxFrame: answer.welcome.maxFrame ?? 1024 * 1024,
        });
      }
    });
  });
  t.teardown(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, connections };
}

/** Opens a plain ws client (terminated at teardown) that collects decoded frames and the close code. */
export async function rawClient(
  t: Teardown,
  url: string,
): Promise<{ socket: WebSocket; messages: Record<string, unknown>[]; closed: Promise<{ code: number; reason: string }> }> {
  const socket = new WebSocket(url, { perMessageDeflate: false });
  socket.on('error', () => {});
  t.teardown(() => socket.terminate());
  const messages: Record<string, unknown>[] = [];
  socket.on('message', (data: Buffer) => messages.push(...(unpackMultiple(data) as Record<string, unknown>[])));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await once(socket, 'open');
  return { socket, messages, closed };
}
