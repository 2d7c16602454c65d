import { randomUUID } from 'node:crypto';
import { chmodSync, lstatSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import type { TSchema } from '@sinclair/typebox';
import WebSocket, { WebSocketServer } from 'ws';
import type { ActorRef } from '../refs.js';
import { Exposures, type ExposeOptions } from './exposures.js';
import { defaultLimits, defaultReconnect, type ReconnectPolicy, type RemotingLimits } from './limits.js';
import { Peer, protocolErrors, type FrameCounts, type PeerHost, type PeerState, type WhileDisconnected } from './peer.js';
import { checkHello, clipMessage, decodeFrame, encode, PROTOCOL_VERSION, type ErrorEnvelope, type Hello } from './protocol.js';

/** Where an incoming connection comes from, for decisions such as rate limits. */
export interface ConnectionInfo {
  /** The peer's IP address; undefined on a Unix socket. */
  readonly remoteAddress: string | undefined;
}

/** Checks the credential of an incoming connection; returns its identity or throws to refuse it. */
export type Authenticate = (auth: string | undefined, hello: Hello, connection: ConnectionInfo) => unknown;

/**
 * Checks the renewed credential of an open connection (`Peer.reauthenticate`), given the identity
 * the connection has now; returns its new identity or throws to refuse it, and the connection
 * keeps the identity it had.
 */
export type Reauthenticate = (auth: string, current: unknown, connection: ConnectionInfo) => unknown;

/** Options of a `Remoting`. */
export interface RemotingOptions {
  /** This system's name as peers see it. Default: a random one. */
  name?: string;
  limits?: Partial<RemotingLimits>;
  /** Refuses incoming connections whose credential it rejects. Default: everyone is let in. */
  authenticate?: Authenticate;
  /** Accepts renewed credentials of open incoming connections. Default: every `reauth` is refused. */
  reauthenticate?: Reauthenticate;
  /**
   * When an identity that `authenticate` or `reauthenticate` returned stops being valid (ms since
   * the epoch), or undefined for never: at that time its connection is closed with a fatal
   * `UNAUTHENTICATED` error unless it was renewed.
   */
  expiresAt?: (principal: unknown) => number | undefined;
  /** Called for each incoming peer once its handshake succeeded. */
  onPeer?: (peer: Peer) => void;
}

/** Options of `Remoting.connect`. */
export interface ConnectOptions {
  /** The handshake credential; a function is called at each dial, so a credential that rotates is read afresh on reconnect. */
  auth?: string | (() => string);
  /** `queue` (default): messages wait, bounded, until the connection is back; `fail`: they fail fast. */
  whileDisconnected?: WhileDisconnected;
  reconnect?: Partial<ReconnectPolicy>;
  /** Hears every change of the peer's state (see `PeerState`); must not throw. */
  onState?: (state: PeerState) => void;
}

/** Where a `Remoting` listens: a TCP `host:port`, or a Unix socket at `path`. */
export interface ListenOptions {
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /**
   * A Unix socket instead of TCP, that only this user may connect to (mode 0600). It is bound in
   * a private folder (mode 0700) beside `path` and then moved to `path`, so at no moment can
   * another user connect; a file already at `path` is replaced. Peers dial the `ws+unix:` URL
   * that `listen` returns.
   */
  path?: string;
  /** Answers the plain HTTP requests of the server (those that are no ws upgrade). Default: 426 Upgrade Required. */
  onRequest?: RequestListener;
}

/**
 * Lets actors of this process talk to actors of other processes: `expose` names the local actors
 * peers may address (each with the schema its messages must pass), `listen` accepts peers,
 * `connect` dials one. Both directions of a connection carry tells and asks.
 */
export class Remoting implements PeerHost {
  readonly name: string;
  readonly limits: RemotingLimits;
  readonly exposures = new Exposures();
  readonly frames: FrameCounts = { sent: 0, received: 0 };
  private readonly peerSet = new Set<Peer>();
  private server: WebSocketServer | undefined;
  /** The HTTP server under `server`. */
  private http: HttpServer | undefined;
  /** The Unix socket `http` listens on, if it does. */
  private unixSocket: { path: string; inode: number } | undefined;

  constructor(private readonly options: RemotingOptions = {}) {
    this.name = options.name ?? `system-${randomUUID().slice(0, 8)}`;
    this.limits = { ...defaultLimits, ...options.limits };
  }

  /** Lets remote peers address `ref` at `path`; each message must pass `options.schema`. */
  expose<S extends TSchema, M>(path: string, ref: ActorRef<M>, options: ExposeOptions<S, M>): void {
    this.exposures.add(path, ref, options);
  }

  /** Every connected or connecting peer, both directions. */
  get peers(): ReadonlySet<Peer> {
    return this.peerSet;
  }

  /** Accepts incoming peers on `host:port` (default 127.0.0.1, a free port), or on the Unix socket `path`. */
  async listen(options: ListenOptions = {}): Promise<{ host: string; port: number; url: string }> {
    if (this.server) throw new Error(`${this.name} is already listening`);
    if (options.path !== undefined) return this.listenOnPath(options.path, options.onRequest);
    const http = createServer(options.onRequest ?? upgradeRequired);
    const server = this.serve(http);
    try {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve);
      });
    } catch (error) {
      this.server = undefined;
      this.http = undefined;
      server.close();
      throw error;
    }
    this.reportServerErrors(server);
    const address = http.address() as AddressInfo;
    return { host: address.address, port: address.port, url: `ws://${address.address}:${address.port}` };
  }

  private serve(http: HttpServer): WebSocketServer {
    const server = new WebSocketServer({ server: http, maxPayload: this.limits.maxFrameBytes, perMessageDeflate: false });
    this.server = server;
    this.http = http;
    server.on('connection', (socket, request) => this.handshake(socket, connectionInfo(request)));
    return server;
  }

  private reportServerErrors(server: WebSocketServer): void {
    server.on('error', (error) => protocolErrors.publish({ peer: this.name, message: `server error: ${error.message}` }));
  }

  private async listenOnPath(path: string, onRequest: RequestListener | undefined): Promise<{ host: string; port: number; url: string }> {
    if (!unixSocketPathFits(path)) {
      throw new RangeError(`${path} is longer than a Unix socket's path may be (${MAX_UNIX_SOCKET_PATH} bytes)`);
    }
    const http = createServer(onRequest ?? upgradeRequired);
    const server = this.serve(http);
    const privateDir = mkdtempSync(join(dirname(path), '.s'));
    try {
      const bound = join(privateDir, 's');
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(bound, resolve);
      });
      chmodSync(bound, 0o600);
      renameSync(bound, path);
    } catch (error) {
      this.server = undefined;
      this.http = undefined;
      server.close();
      http.close();
      throw error;
    } finally {
      rmSync(privateDir, { recursive: true, force: true });
    }
    this.unixSocket = { path, inode: lstatSync(path).ino };
    this.reportServerErrors(server);
    return { host: '', port: 0, url: `ws+unix:${path}:/` };
  }

  /** Dials the peer at `url` (`ws://host:port`); await `peer.ready` for the first handshake. */
  connect(url: string, options: ConnectOptions = {}): Peer {
    const peer = Peer.dial(this, {
      url,
      whileDisconnected: options.whileDisconnected ?? 'queue',
      reconnect: { ...defaultReconnect, ...options.reconnect },
      ...(options.auth === undefined ? {} : { auth: options.auth }),
      ...(options.onState === undefined ? {} : { onState: options.onState }),
    });
    this.peerSet.add(peer);
    return peer;
  }

  /** Closes every peer and stops listening. */
  async close(): Promise<void> {
    await Promise.all([...this.peerSet].map((peer) => peer.close()));
    const server = this.server;
    this.server = undefined;
    if (server) {
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const http = this.http;
    this.http = undefined;
    if (http) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    const unix = this.unixSocket;
    this.unixSocket = undefined;
    // Unless another listener has replaced it since.
    if (unix && inodeOf(unix.path) === unix.inode) rmSync(unix.path, { force: true });
  }

  /** @internal */
  reauthenticate(auth: string, current: unknown, connection: ConnectionInfo): Promise<unknown> {
    const reauthenticate = this.options.reauthenticate;
    if (!reauthenticate) return Promise.reject(new Error('this side does not accept renewed credentials'));
    return Promise.resolve().then(() => reauthenticate(auth, current, connection));
  }

  /** @internal */
  expiresAt(principal: unknown): number | undefined {
    return this.options.expiresAt?.(principal);
  }

  /** @internal */
  peerClosed(peer: Peer): void {
    this.peerSet.delete(peer);
  }

  private handshake(socket: WebSocket, connection: ConnectionInfo): void {
    socket.on('error', () => {}); // ws closes the socket after an error; nothing else to do here
    const refuse = (code: string, problem: string, closeCode = 1002) => {
      const message = clipMessage(problem);
      protocolErrors.publish({ peer: 'unknown', message: `refused a connection: ${message}` });
      const notice: ErrorEnvelope = { t: 'error', code, message, fatal: true };
      socket.send(encode(notice), { binary: true });
      socket.close(closeCode, code);
      // Reading was paused for the handshake: without this the peer's close frame is never read and
      // the refused socket lingers until ws's 30 s close timeout.
      socket.resume();
    };
    const timer = setTimeout(
      () => refuse('HANDSHAKE_TIMEOUT', `no hello within ${this.limits.handshakeTimeoutMs} ms`),
      this.limits.handshakeTimeoutMs,
    );
    socket.once('close', () => clearTimeout(timer));
    socket.once('message', async (data: Buffer, isBinary: boolean) => {
      clearTimeout(timer);
      socket.pause();
      // `pause` stops reading, yet ws still emits the frames of a chunk it already read: frames sent
      // right behind the hello are held and replayed to the peer instead of being dropped unseen.
      const early: Array<[Buffer, boolean]> = [];
      const hold = (frame: Buffer, binary: boolean) => early.push([frame, binary]);
      socket.on('message', hold);
      let hello: Hello | string;
      try {
        hello = isBinary ? checkHello(decodeFrame(data)[0]) : 'a text frame; frames are binary msgpack';
      } catch (error) {
        hello = `not valid msgpack: ${(error as Error).message}`;
      }
      if (typeof hello === 'string') return refuse('PROTOCOL_ERROR', `the first frame must be a hello; got ${hello}`);
      if (hello.v !== PROTOCOL_VERSION) {
        return refuse('PROTOCOL_VERSION', `peer speaks protocol ${hello.v}; this side speaks ${PROTOCOL_VERSION}`);
      }
      let principal: unknown;
      try {
        principal = await this.options.authenticate?.(hello.auth, hello, connection);
      } catch (error) {
        return refuse('UNAUTHENTICATED', `authentication failed: ${(error as Error).message}`, 1008);
      }
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(encode({ t: 'welcome', v: PROTOCOL_VERSION, name: this.name, maxFrame: this.limits.maxFrameBytes }));
      socket.off('message', hold);
      const peer = Peer.accept(this, socket, hello, principal, connection);
      this.peerSet.add(peer);
      for (const [frame, binary] of early) socket.emit('message', frame, binary);
      socket.resume();
      this.options.onPeer?.(peer);
    });
  }
}

/** The answer to a plain HTTP request of a server that serves nothing but ws. */
const upgradeRequired: RequestListener = (_request, response) => {
  response.writeHead(426, { 'content-type': 'text/plain', connection: 'close' }).end('Upgrade Required');
};

function connectionInfo(request: IncomingMessage): ConnectionInfo {
  return { remoteAddress: request.socket.remoteAddress };
}

/** The longest path of a Unix socket on every platform (macOS: 104 bytes with the NUL); a longer one is cut short silently. */
const MAX_UNIX_SOCKET_PATH = 103;

/** Whether `path` may be a Unix socket's path (see `ListenOptions.path`). */
export function unixSocketPathFits(path: string): boolean {
  return Buffer.byteLength(path) <= MAX_UNIX_SOCKET_PATH;
}

function inodeOf(path: string): number | undefined {
  try {
    return lstatSync(path).ino;
  } catch {
    return undefined;
  }
}
