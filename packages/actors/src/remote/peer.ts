import { channel } from 'node:diagnostics_channel';
import Denque from 'denque';
import WebSocket from 'ws';
import {
  AskTimeoutError,
  ConnectionLostError,
  FrameTooLargeError,
  PeerUnavailableError,
  ProtocolError,
  RemoteError,
  toFailure,
  type ActorError,
} from '../errors.js';
import { ask, tell, type ActorRef, type RemoteTarget } from '../refs.js';
import type { Exposure, Exposures, Origin } from './exposures.js';
import { backoffDelay, type ReconnectPolicy, type RemotingLimits } from './limits.js';
import {
  checkSessionEnvelope,
  checkWelcome,
  clipMessage,
  decodeFrame,
  encode,
  MAX_TIMEOUT_MS,
  PROTOCOL_VERSION,
  type Ask,
  type ErrorEnvelope,
  type Hello,
  type Reauth,
  type Reauthed,
  type SessionEnvelope,
  type Tell,
} from './protocol.js';
import type { ConnectionInfo } from './remoting.js';

/** Protocol violations of remote peers (and the connection each closed) are published here. */
export const protocolErrors = channel('lzy:actors:protocol-error');

/**
 * `connecting`: first dial and handshake; `open`: messages flow; `reconnecting`: an outgoing
 * connection dropped and is dialled again with backoff; `closed`: for good, sends fail.
 */
export type PeerState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What an outgoing peer does with messages sent while it is not connected. */
export type WhileDisconnected = 'queue' | 'fail';

/** How to dial an outgoing peer. */
export interface DialOptions {
  url: string;
  /** Credential sent in the handshake, checked by the server's `authenticate`; a function is called at each dial (a credential that rotates). */
  auth?: string | (() => string);
  whileDisconnected: WhileDisconnected;
  reconnect: ReconnectPolicy;
  /** Hears every change of the peer's state, e.g. `open` again after `reconnecting`. */
  onState?: (state: PeerState) => void;
}

/** What a peer needs from the `Remoting` that owns it. */
/** How many ws frames a remoting's connections sent and received. */
export interface FrameCounts {
  sent: number;
  received: number;
}

export interface PeerHost {
  readonly name: string;
  readonly limits: RemotingLimits;
  readonly exposures: Exposures;
  /** Frames its peers sent and received, counted as they go. */
  readonly frames: FrameCounts;
  peerClosed(peer: Peer): void;
  /** Checks an incoming peer's renewed credential; resolves with its new identity. */
  reauthenticate(auth: string, current: unknown, connection: ConnectionInfo): Promise<unknown>;
  /** When an incoming peer's identity stops being valid (ms since the epoch), if ever. */
  expiresAt(principal: unknown): number | undefined;
}

interface Outgoing {
  bytes: Buffer;
  askId: number;
}

interface PendingAsk {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  address: string;
  timeoutMs: number;
  sent: boolean;
}

interface PendingReauth {
  resolve(): void;
  reject(error: Error): void;
}

const NO_ASK = 0;

/**
 * One remote actor system, seen from this one: sends batched frames to it, routes its replies
 * to pending asks, and checks and delivers what it sends to exposed actors. An outgoing peer
 * (from `Remoting.connect`) reconnects with backoff; an incoming one closes with its socket.
 */
export class Peer {
  private stateValue: PeerState;
  private remoteName: string;
  private socket: WebSocket | undefined;
  /** The outgoing socket still in its handshake: closing the peer must stop it too. */
  private dialing: WebSocket | undefined;
  private peerMaxFrame: number;
  private principalValue: unknown;
  /** Where an incoming peer connects from. */
  private connection: ConnectionInfo = { remoteAddress: undefined };
  /** Closes an incoming peer whose identity expired unrenewed. */
  private expiryTimer: NodeJS.Timeout | undefined;
  private readonly reauths = new Map<number, PendingReauth>();
  private nextReauthId = 1;
  /** The renewals of an incoming peer under way, in order: a later one never lands before an earlier one. */
  private renewing: Promise<void> = Promise.resolve();
  private readonly waiting = new Denque<Outgoing>();
  private waitingBytes = 0;
  private batch: Outgoing[] = [];
  private batchBytes = 0;
  private flushScheduled = false;
  private inflightBytes = 0;
  private readonly asks = new Map<number, PendingAsk>();
  private nextAskId = 1;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly readyPromise: Promise<void>;
  private settleReady!: (error?: Error) => void;
  private readonly origin: Origin;

  /** Resolves once the first handshake succeeds; rejects if the peer refuses it or the peer is closed first. */
  get ready(): Promise<void> {
    return this.readyPromise;
  }

  get state(): PeerState {
    return this.stateValue;
  }

  /** The remote system's name (from the handshake), or the URL before the first handshake. */
  get name(): string {
    return this.remoteName;
  }

  /** The verified identity of an incoming peer, as the server's `authenticate` returned it. */
  get principal(): unknown {
    return this.principalValue;
  }

  private constructor(
    private readonly host: PeerHost,
    private readonly dial: DialOptions | undefined,
    name: string,
  ) {
    this.stateValue = dial ? 'connecting' : 'open';
    this.remoteName = name;
    this.peerMaxFrame = host.limits.maxFrameBytes;
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => (error ? reject(error) : resolve());
    });
    this.readyPromise.catch(() => {});
    const peer = this;
    this.origin = {
      peer,
      get principal() {
        return peer.principalValue;
      },
    };
  }

  /** An outgoing peer that dials `options.url` now and again whenever the connection drops. */
  static dial(host: PeerHost, options: DialOptions): Peer {
    const peer = new Peer(host, options, options.url);
    peer.connect();
    return peer;
  }

  /** An incoming peer on a socket whose handshake the server has accepted. */
  static accept(host: PeerHost, socket: WebSocket, hello: Hello, principal: unknown, connection: ConnectionInfo): Peer {
    const peer = new Peer(host, undefined, hello.name);
    peer.principalValue = principal;
    peer.connection = connection;
    peer.peerMaxFrame = hello.maxFrame;
    peer.attach(socket);
    peer.settleReady();
    peer.watchExpiry();
    return peer;
  }

  /**
   * Renews the credential of this outgoing connection without dropping it: resolves once the
   * server took it, rejects with a `ProtocolError` naming why it refused it (the connection keeps
   * its former credential) or with `CONNECTION_LOST`. A connection that is not open needs none:
   * its next dial sends the credential `auth` gives then.
   */
  reauthenticate(auth: string): Promise<void> {
    if (!this.dial) return Promise.reject(new TypeError('only the dialling side of a connection renews its credential'));
    const id = this.nextReauthId++;
    return new Promise<void>((resolve, reject) => {
      if (this.stateValue !== 'open') {
        reject(new PeerUnavailableError(`not connected to ${this.remoteName} (${this.stateValue})`));
        return;
      }
      this.reauths.set(id, { resolve, reject });
      try {
        this.send(encode({ t: 'reauth', id, auth }), NO_ASK);
      } catch (error) {
        this.reauths.delete(id);
        reject(error as Error);
      }
    });
  }

  /** A typed reference to the actor exposed at `path` on this peer. */
  ref<M>(path: string): ActorRef<M> {
    const target: RemoteTarget = {
      remote: true,
      address: `${this.remoteName}/${path}`,
      tell: (message) => this.tell(path, message),
      ask: (query, timeoutMs) => this.ask(path, query, timeoutMs),
    };
    return target as ActorRef<M>;
  }

  /** Sends a message to the actor at `path`; throws at once if it can be neither sent nor queued. */
  tell(path: string, message: unknown): void {
    this.send(encodeOrThrow({ t: 'tell', to: path, msg: message }), NO_ASK);
  }

  /** Sends a query to the actor at `path` and resolves with its reply (see `ask`). */
  ask(path: string, query: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.nextAskId++;
    const address = `${this.remoteName}/${path}`;
    return new Promise((resolve, reject) => {
      let bytes: Buffer;
      try {
        bytes = encodeOrThrow({ t: 'ask', id, to: path, msg: query, ttl: Math.min(MAX_TIMEOUT_MS, Math.max(1, Math.ceil(timeoutMs))) });
      } catch (error) {
        reject(error as Error);
        return;
      }
      const timer = setTimeout(() => {
        this.asks.delete(id);
        reject(new AskTimeoutError(address, timeoutMs));
      }, timeoutMs);
      this.asks.set(id, { resolve, reject, timer, address, timeoutMs, sent: false });
      try {
        this.send(bytes, id);
      } catch (error) {
        clearTimeout(timer);
        this.asks.delete(id);
        reject(error as Error);
      }
    });
  }

  /** Sends what is queued, then closes the connection; later sends fail. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.flush();
    const socket = this.socket;
    this.shutDown(new PeerUnavailableError(`connection to ${this.remoteName} was closed by this side`, 'PEER_CLOSED'));
    if (socket && socket.readyState === WebSocket.OPEN) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.close(1000, 'closing');
      });
    } else {
      socket?.terminate();
    }
  }

  /** Drops the connection at once, without sending what is queued. */
  destroy(): void {
    const socket = this.socket;
    this.shutDown(new PeerUnavailableError(`connection to ${this.remoteName} was destroyed by this side`, 'PEER_CLOSED'));
    socket?.terminate();
  }

  private connect(): void {
    const dial = this.dial!;
    const socket = new WebSocket(dial.url, { maxPayload: this.host.limits.maxFrameBytes, perMessageDeflate: false });
    this.dialing = socket;
    let welcomed = false;
    const handshakeTimer = setTimeout(() => {
      this.report(`no handshake from ${dial.url} within ${this.host.limits.handshakeTimeoutMs} ms`);
      socket.terminate();
    }, this.host.limits.handshakeTimeoutMs);
    socket.on('error', () => {}); // followed by 'close', where it is handled
    socket.on('open', () => {
      const hello: Hello = { t: 'hello', v: PROTOCOL_VERSION, name: this.host.name, maxFrame: this.host.limits.maxFrameBytes };
      const auth = typeof dial.auth === 'function' ? dial.auth() : dial.auth;
      if (auth !== undefined) hello.auth = auth;
      socket.send(encode(hello));
    });
    socket.once('message', (data: Buffer, isBinary: boolean) => {
      clearTimeout(handshakeTimer);
      const answer = isBinary ? decodeWelcome(data) : 'text frame in handshake';
      if (typeof answer === 'string') {
        this.report(`bad handshake answer from ${dial.url}: ${answer}`);
        socket.terminate();
        this.shutDown(new ProtocolError(`peer at ${dial.url} answered the handshake badly: ${answer}`));
        return;
      }
      if (answer.t === 'error') {
        socket.terminate();
        this.shutDown(new ProtocolError(`peer at ${dial.url} refused the connection: ${answer.message}`, answer.code));
        return;
      }
      if (answer.v !== PROTOCOL_VERSION) {
        socket.terminate();
        this.shutDown(
          new ProtocolError(`peer at ${dial.url} speaks protocol ${answer.v}; this side speaks ${PROTOCOL_VERSION}`, 'PROTOCOL_VERSION'),
        );
        return;
      }
      welcomed = true;
      this.remoteName = answer.name;
      this.peerMaxFrame = answer.maxFrame;
      this.attempt = 0;
      this.dialing = undefined;
      this.attach(socket);
      this.settleReady();
    });
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      if (this.dialing === socket) this.dialing = undefined;
      if (!welcomed && this.stateValue !== 'closed') this.scheduleReconnect();
    });
  }

  private attach(socket: WebSocket): void {
    this.socket = socket;
    this.setState('open');
    // ws keeps emitting the frames of an already-received chunk after `close()`: once this side has
    // closed the connection (a protocol violation), nothing more that arrived on it is delivered.
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (this.socket === socket && socket.readyState === WebSocket.OPEN) this.onFrame(data, isBinary);
    });
    socket.on('error', (error) => this.report(`socket error from ${this.remoteName}: ${error.message}`));
    socket.on('close', () => {
      if (this.socket === socket) this.onDisconnect();
    });
    this.drain();
  }

  private onDisconnect(): void {
    this.socket = undefined;
    this.inflightBytes = 0;
    // Frames not yet handed to the socket were never sent: put them back in front of the queue.
    for (let i = this.batch.length - 1; i >= 0; i--) {
      this.waiting.unshift(this.batch[i]!);
      this.waitingBytes += this.batch[i]!.bytes.length;
    }
    this.batch = [];
    this.batchBytes = 0;
    for (const [id, pending] of this.asks) {
      if (!pending.sent) continue;
      clearTimeout(pending.timer);
      this.asks.delete(id);
      pending.reject(new ConnectionLostError(pending.address));
    }
    this.failReauths(new ConnectionLostError(`${this.remoteName} (renewing the credential)`));
    if (this.dial && this.stateValue !== 'closed') this.scheduleReconnect();
    else this.shutDown(new PeerUnavailableError(`connection from ${this.remoteName} is closed`, 'PEER_CLOSED'));
  }

  private scheduleReconnect(): void {
    this.setState(this.stateValue === 'connecting' ? 'connecting' : 'reconnecting');
    if (this.dial!.whileDisconnected === 'fail') this.failQueued(new PeerUnavailableError(`not connected to ${this.remoteName}`));
    const delay = backoffDelay(this.dial!.reconnect, this.attempt++);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stateValue !== 'closed') this.connect();
    }, delay);
  }

  private setState(state: PeerState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.dial?.onState?.(state);
  }

  private shutDown(reason: ActorError): void {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    this.dialing?.terminate();
    this.dialing = undefined;
    this.socket = undefined;
    this.settleReady(reason);
    this.batch.forEach((item) => this.waiting.push(item));
    this.batch = [];
    this.failQueued(reason);
    for (const pending of this.asks.values()) {
      clearTimeout(pending.timer);
      pending.reject(reason);
    }
    this.asks.clear();
    this.failReauths(reason);
    clearTimeout(this.expiryTimer);
    this.host.peerClosed(this);
  }

  private failReauths(reason: Error): void {
    for (const pending of this.reauths.values()) pending.reject(reason);
    this.reauths.clear();
  }

  /** Arms the timer that closes this incoming connection once its identity expires unrenewed. */
  private watchExpiry(): void {
    clearTimeout(this.expiryTimer);
    const expiresAt = this.host.expiresAt(this.principalValue);
    if (expiresAt === undefined) return;
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, expiresAt - Date.now()));
    this.expiryTimer = setTimeout(() => {
      // A timer capped to Node's longest may fire early: look again.
      if (Date.now() < expiresAt) return this.watchExpiry();
      this.fatal('UNAUTHENTICATED', `the credential of this connection expired at ${new Date(expiresAt).toISOString()} and was not renewed`, 1008);
    }, delay);
  }

  /** Rejects the asks of queued messages and reports how many tells are dropped, so none vanish silently. */
  private failQueued(reason: ActorError): void {
    let tells = 0;
    for (let item = this.waiting.shift(); item; item = this.waiting.shift()) {
      const pending = this.asks.get(item.askId);
      if (pending) {
        clearTimeout(pending.timer);
        this.asks.delete(item.askId);
        pending.reject(reason);
      } else if (item.askId === NO_ASK) tells++;
    }
    this.waitingBytes = 0;
    if (tells > 0) this.report(`${tells} queued message(s) to ${this.remoteName} dropped: ${reason.message}`);
  }

  private send(bytes: Buffer, askId: number): void {
    if (bytes.length > this.peerMaxFrame) throw new FrameTooLargeError(bytes.length, this.peerMaxFrame);
    const state = this.stateValue;
    if (state === 'open' && this.waiting.length === 0 && this.inflightBytes < this.host.limits.highWaterBytes) {
      this.addToBatch({ bytes, askId });
      return;
    }
    if (state === 'closed') throw new PeerUnavailableError(`connection to ${this.remoteName} is closed`, 'PEER_CLOSED');
    if (state !== 'open' && this.dial?.whileDisconnected === 'fail') {
      throw new PeerUnavailableError(`not connected to ${this.remoteName} (${state}); messages are not queued`);
    }
    const limits = this.host.limits;
    if (this.waiting.length >= limits.maxQueuedMessages || this.waitingBytes + bytes.length > limits.maxQueuedBytes) {
      throw new PeerUnavailableError(
        `queue to ${this.remoteName} is full (${this.waiting.length} messages, ${this.waitingBytes} bytes; ${state})`,
        'QUEUE_FULL',
      );
    }
    this.waiting.push({ bytes, askId });
    this.waitingBytes += bytes.length;
  }

  private addToBatch(item: Outgoing): void {
    if (this.batchBytes + item.bytes.length > this.peerMaxFrame) this.flush();
    this.batch.push(item);
    this.batchBytes += item.bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushLater);
    }
  }

  private readonly flushLater = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    const socket = this.socket;
    if (this.batch.length === 0 || !socket) return;
    const items = this.batch;
    const frame = items.length === 1 ? items[0]!.bytes : Buffer.concat(items.map((item) => item.bytes), this.batchBytes);
    for (const item of items) {
      if (item.askId !== NO_ASK) {
        const pending = this.asks.get(item.askId);
        if (pending) pending.sent = true;
      }
    }
    this.batch = [];
    this.batchBytes = 0;
    this.inflightBytes += frame.length;
    this.host.frames.sent++;
    socket.send(frame, { binary: true }, (error) => {
      if (this.socket !== socket) return;
      this.inflightBytes -= frame.length;
      if (!error) this.drain();
    });
  }

  /** Moves queued messages into batches while the socket keeps up. */
  private drain(): void {
    const highWater = this.host.limits.highWaterBytes;
    while (this.stateValue === 'open' && this.waiting.length > 0 && this.inflightBytes + this.batchBytes < highWater) {
      const item = this.waiting.shift()!;
      this.waitingBytes -= item.bytes.length;
      this.addToBatch(item);
    }
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.host.frames.received++;
    if (!isBinary) return this.violation('text frames are not part of the protocol; frames are binary msgpack');
    let envelopes: unknown[];
    try {
      envelopes = decodeFrame(data);
    } catch (error) {
      return this.violation(`frame of ${data.length} bytes is not valid msgpack: ${(error as Error).message}`);
    }
    for (const value of envelopes) {
      const envelope = checkSessionEnvelope(value);
      if (typeof envelope === 'string') return this.violation(envelope);
      if (!this.handle(envelope)) return;
    }
  }

  /** Handles one checked envelope; false when it broke the protocol and the connection is closing. */
  private handle(envelope: SessionEnvelope): boolean {
    switch (envelope.t) {
      case 'tell':
        return this.deliverTell(envelope);
      case 'ask':
        return this.deliverAsk(envelope);
      case 'reply': {
        const pending = this.asks.get(envelope.id);
        if (!pending) return true; // its ask timed out already
        clearTimeout(pending.timer);
        this.asks.delete(envelope.id);
        if (envelope.ok) pending.resolve(envelope.value);
        // The peer's timer for this ask (its ttl) can fire just before ours: the same timeout, the same error.
        else if (envelope.error.code === 'ASK_TIMEOUT') pending.reject(new AskTimeoutError(pending.address, pending.timeoutMs));
        else pending.reject(new RemoteError(envelope.error));
        return true;
      }
      case 'error':
        this.report(`${this.remoteName} reported ${envelope.code}: ${envelope.message}`);
        if (envelope.fatal) this.socket?.terminate();
        return !envelope.fatal;
      case 'reauth':
        if (this.dial) {
          this.violation('reauth is sent by the dialling side only');
          return false;
        }
        this.renew(envelope);
        return true;
      case 'reauthed':
        return this.renewed(envelope);
    }
  }

  /** An incoming peer's renewed credential: checked, then its identity replaced, in the order they came. */
  private renew(envelope: Reauth): void {
    const previous = this.renewing;
    this.renewing = previous.then(async () => {
      let answer: Reauthed;
      try {
        const principal = await this.host.reauthenticate(envelope.auth, this.principalValue, this.connection);
        if (this.stateValue === 'closed') return;
        this.principalValue = principal;
        this.watchExpiry();
        answer = { t: 'reauthed', id: envelope.id, ok: true };
      } catch (error) {
        answer = { t: 'reauthed', id: envelope.id, ok: false, code: 'UNAUTHENTICATED', message: clipMessage(`renewal refused: ${(error as Error).message}`) };
      }
      if (this.stateValue === 'closed') return;
      try {
        this.send(encode(answer), NO_ASK);
      } catch (error) {
        this.report(`answer to reauth ${envelope.id} of ${this.remoteName} lost: ${(error as Error).message}`);
      }
    });
  }

  private renewed(envelope: Reauthed): boolean {
    if (!this.dial) {
      this.violation('reauthed is sent by the accepting side only');
      return false;
    }
    const pending = this.reauths.get(envelope.id);
    if (!pending) return true;
    this.reauths.delete(envelope.id);
    if (envelope.ok) pending.resolve();
    else pending.reject(new ProtocolError(envelope.message, envelope.code));
    return true;
  }

  private deliverTell(envelope: Tell): boolean {
    const target = this.host.exposures.get(envelope.to);
    if (!target) {
      this.sendNotice('ACTOR_NOT_FOUND', `no actor is exposed at '${envelope.to}' on ${this.host.name}; message dropped`);
      return true;
    }
    if (!target.allow(this.principalValue)) {
      this.sendNotice('FORBIDDEN', `${this.refusal(target, envelope.to)}; message dropped`);
      return true;
    }
    if (!target.checker.check(envelope.msg)) {
      this.violation(`message to '${envelope.to}' does not match its schema at ${target.checker.explain(envelope.msg)}`);
      return false;
    }
    tell(target.ref, target.adapt(envelope.msg, this.origin) as never);
    return true;
  }

  /** Why this connection may not address the actor `target` exposed at `path`. */
  private refusal(target: Exposure, path: string): string {
    return clipMessage(target.refusal?.(this.principalValue) ?? `this connection may not address '${path}' on ${this.host.name}`);
  }

  private deliverAsk(envelope: Ask): boolean {
    const target = this.host.exposures.get(envelope.to);
    if (!target) {
      this.reply(envelope.id, undefined, {
        code: 'ACTOR_NOT_FOUND',
        name: 'ActorNotFoundError',
        message: `no actor is exposed at '${envelope.to}' on ${this.host.name}`,
      });
      return true;
    }
    if (!target.allow(this.principalValue)) {
      this.reply(envelope.id, undefined, {
        code: 'FORBIDDEN',
        name: 'ForbiddenError',
        message: this.refusal(target, envelope.to),
      });
      return true;
    }
    if (!target.checker.check(envelope.msg)) {
      this.violation(`ask to '${envelope.to}' does not match its schema at ${target.checker.explain(envelope.msg)}`);
      return false;
    }
    const query = target.adapt(envelope.msg, this.origin);
    ask(target.ref, query as never, envelope.ttl).then(
      (value) => this.reply(envelope.id, value, undefined),
      (error: unknown) => this.reply(envelope.id, undefined, toFailure(error)),
    );
    return true;
  }

  private reply(id: number, value: unknown, error: ReturnType<typeof toFailure> | undefined): void {
    if (this.stateValue === 'closed') return;
    try {
      this.send(encodeOrThrow(error ? { t: 'reply', id, ok: false, error } : { t: 'reply', id, ok: true, value }), NO_ASK);
    } catch (sendError) {
      if (error) return this.report(`reply ${id} to ${this.remoteName} lost: ${(sendError as Error).message}`);
      this.reply(id, undefined, toFailure(sendError));
    }
  }

  private sendNotice(code: string, message: string): void {
    try {
      this.send(encode({ t: 'error', code, message, fatal: false }), NO_ASK);
    } catch {
      // the queue is full or the peer is gone: the notice is only advisory
    }
    this.report(message);
  }

  /** The peer broke the protocol: tell it why, close its connection, keep serving everyone else. */
  private violation(problem: string): void {
    this.report(`protocol error from ${this.remoteName}: ${clipMessage(problem)}`);
    this.fatal('PROTOCOL_ERROR', problem, 1002);
  }

  /** Tells the peer why its connection ends, and closes it with `closeCode`. */
  private fatal(code: string, problem: string, closeCode: number): void {
    const message = clipMessage(problem);
    const socket = this.socket;
    if (!socket) return;
    const notice: ErrorEnvelope = { t: 'error', code, message, fatal: true };
    this.flush();
    socket.send(encode(notice), { binary: true });
    socket.close(closeCode, code);
    const dial = this.dial;
    if (!dial) this.socket = undefined;
    if (!dial) this.shutDown(new ProtocolError(message, code));
  }

  private report(message: string): void {
    if (protocolErrors.hasSubscribers) protocolErrors.publish({ peer: this.remoteName, message });
  }
}

function decodeWelcome(data: Buffer) {
  try {
    const [first] = decodeFrame(data);
    return checkWelcome(first);
  } catch (error) {
    return `not valid msgpack: ${(error as Error).message}`;
  }
}

function encodeOrThrow(envelope: SessionEnvelope): Buffer {
  try {
    return encode(envelope);
  } catch (error) {
    throw new TypeError(`message cannot be encoded as msgpack: ${(error as Error).message}`);
  }
}
