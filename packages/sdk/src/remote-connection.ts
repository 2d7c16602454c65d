import { randomUUID } from 'node:crypto';
import {
  compileChecker,
  Remoting,
  spawnActor,
  startActorSystem,
  type ActorSystem,
  type Checker,
  type Peer,
  type PeerState,
  type ReconnectPolicy,
} from '@lzy/actors';
import { CHUNK_BYTES, hashBytes, storedRef, uriOf, type DataRef, type StoredRef } from '@lzy/node-agent/protocol';
import type { OpSpec, OwnStorage, Role, RuntimeConnection, StartOptions, WorkflowDetail, WorkflowEvent, WorkflowInfo, WorkflowStatus } from '@lzy/runtime';
import {
  CLIENT_PATH,
  ClientEvents,
  ClientReplies,
  ClientResult,
  EVENTS_PATH,
  MAX_DESCRIBE_OPS,
  MAX_LIST_RUNS,
  MAX_LOG_PAGE,
  MAX_SUBMIT_OPS,
  MAX_WHITEBOARD_FIELDS,
  RuntimeError,
  type ClientReply,
  type ClientRequest,
  type LogPage,
  type OidcClientInfo,
  type RunPage,
  type WhiteboardField,
  type WhiteboardQuery,
  type WhiteboardRecord,
} from '@lzy/runtime/protocol';
import { ClientCredentials } from './client-credentials.js';

/** Options of `Lzy.connect`. */
export interface RemoteOptions {
  /** The runtime's gateway, `ws://HOST:PORT` (or a data dir's socket, `ws+unix:PATH:/`). */
  endpoint: string;
  /** A token the runtime accepts: its own opaque token, or a JWT of its issuer or a trusted one. Or else: */
  token?: string;
  /** A client of the runtime's issuer (`lzy clients create`), with `clientSecret`: the connection fetches tokens and renews them before they expire, without dropping. */
  clientId?: string;
  clientSecret?: string;
  /** How long the first connection may take. Default 10 s. */
  connectTimeoutMs?: number;
  /** How long one call may take, waiting for a lost connection to come back included. Default 120 s. */
  callTimeoutMs?: number;
  /** After this long without a connection, the runs this client waits for fail. Default 5 min. */
  giveUpAfterMs?: number;
  reconnect?: Partial<ReconnectPolicy>;
  /** Hears the connection go `open`, `reconnecting` and `closed`; must not throw. */
  onState?: (state: PeerState) => void;
}

interface Watch {
  /** Unknown until `start` answers; events may come before. */
  workflowId: string | undefined;
  onEvent(event: WorkflowEvent): void;
}

/** Bytes of op specs in one `submit`, well under a frame: a larger graph goes in several. */
const SUBMIT_BYTES = 1024 * 1024;

const replyCheckers = new Map<string, Checker<{ ok: true; value: unknown } | { ok: false; error: { code: string; message: string } }>>(
  Object.entries(ClientReplies).map(([type, schema]) => [type, compileChecker(ClientResult(schema))]),
);

/**
 * A connection to a shared runtime (`lzy server`) over its gateway: the same calls as the embedded
 * runtime's. It reconnects by itself with backoff when the server goes away; calls made meanwhile
 * wait (up to `callTimeoutMs`) and those that are safe to repeat are repeated; every run it
 * follows is watched again once the connection is back, and the run replays its results.
 */
export class RemoteConnection implements RuntimeConnection {
  private readonly watches = new Map<string, Watch>();
  private peer!: Peer;
  private everOpen = false;
  private giveUpTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private subject: ClientReply<'whoami'> = { id: '', tenant: '', roles: [] };

  private constructor(
    private readonly options: Required<Omit<RemoteOptions, 'reconnect' | 'onState' | 'token' | 'clientId' | 'clientSecret'>> &
      Pick<RemoteOptions, 'reconnect' | 'onState'>,
    private readonly system: ActorSystem,
    private readonly remoting: Remoting,
    /** The handshake credential, read afresh at each dial. */
    private readonly credential: () => string,
    private readonly credentials: ClientCredentials | undefined,
  ) {}

  /** Connects, checks the token, and learns the tenant; rejects with a `RuntimeError` saying what is wrong. */
  static async open(options: RemoteOptions): Promise<RemoteConnection> {
    if (!/^(wss?:\/\/[^/]+|ws\+unix:\/)/.test(options.endpoint)) {
      throw new RuntimeError('BAD_ENDPOINT', `endpoint ${JSON.stringify(options.endpoint)} is not a ws:// URL (e.g. ws://127.0.0.1:8080)`);
    }
    const { token, clientId, clientSecret, ...rest } = options;
    let credentials: ClientCredentials | undefined;
    if (clientId !== undefined || clientSecret !== undefined) {
      if (clientId === undefined || clientSecret === undefined || token !== undefined) {
        throw new RuntimeError('BAD_CREDENTIALS', 'pass either a token, or a clientId with its clientSecret');
      }
      credentials = new ClientCredentials({ endpoint: options.endpoint, clientId, clientSecret });
      await credentials.start();
    } else if (token === undefined) {
      throw new RuntimeError('BAD_CREDENTIALS', 'a token, or a clientId with its clientSecret, is needed');
    }
    const system = startActorSystem();
    const remoting = new Remoting({ name: `lzy-client-${process.pid}-${randomUUID().slice(0, 8)}` });
    const connection = new RemoteConnection(
      {
        connectTimeoutMs: 10_000,
        callTimeoutMs: 120_000,
        giveUpAfterMs: 5 * 60_000,
        ...rest,
      },
      system,
      remoting,
      credentials ? () => credentials.current() : () => token!,
      credentials,
    );
    if (credentials) {
      // An open connection takes the new token at once; a dropped one sends it when it dials again.
      credentials.onRenewed = (renewed) => connection.peer.reauthenticate(renewed).catch(() => {});
    }
    const events = spawnActor<undefined, ClientEvents>(system, {
      initialState: () => undefined,
      supervision: 'resume',
      receive: (state, { watch, events: batch }) => {
        for (const event of batch) connection.deliver(watch, event);
        return state;
      },
    });
    remoting.expose(EVENTS_PATH, events, { schema: ClientEvents });
    try {
      await connection.dial();
      connection.subject = await connection.call({ type: 'whoami' });
    } catch (error) {
      await connection.close();
      throw error;
    }
    return connection;
  }

  get tenant(): string {
    return this.subject.tenant;
  }

  /** Who this connection's credential is: its subject id, its tenant, and the roles it holds now (carried and bound). */
  whoami(): Promise<ClientReply<'whoami'>> {
    return this.call({ type: 'whoami' });
  }

  private async dial(): Promise<void> {
    const { endpoint, connectTimeoutMs } = this.options;
    this.peer = this.remoting.connect(endpoint, {
      auth: this.credential,
      onState: (state) => this.onState(state),
      ...(this.options.reconnect ? { reconnect: this.options.reconnect } : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RuntimeError('UNREACHABLE', `no answer from the runtime at ${endpoint} within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
    });
    try {
      await Promise.race([this.peer.ready, timeout]);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'UNAUTHENTICATED') {
        throw new RuntimeError('UNAUTHENTICATED', `the runtime at ${endpoint} refused the token: ${reasonOf(error as Error)}`);
      }
      if (error instanceof RuntimeError) throw error;
      throw new RuntimeError(code ?? 'UNREACHABLE', `cannot connect to the runtime at ${endpoint}: ${(error as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private onState(state: PeerState): void {
    this.options.onState?.(state);
    if (state === 'open') {
      clearTimeout(this.giveUpTimer);
      this.giveUpTimer = undefined;
      if (this.everOpen) this.rewatch();
      this.everOpen = true;
    } else if (state === 'reconnecting' && !this.giveUpTimer) {
      this.giveUpTimer = setTimeout(
        () => this.loseWatches(`no connection to the runtime at ${this.options.endpoint} for ${this.options.giveUpAfterMs} ms`),
        this.options.giveUpAfterMs,
      );
    } else if (state === 'closed' && !this.closing) {
      this.loseWatches(`the connection to the runtime at ${this.options.endpoint} closed`);
    }
  }

  /** The connection is back: every run still followed is watched again (and replays its results). */
  private rewatch(): void {
    for (const [watch, { workflowId }] of this.watches) {
      if (workflowId !== undefined) this.requestWatch(watch, workflowId);
    }
  }

  private requestWatch(watch: string, workflowId: string): void {
    this.call({ type: 'watch', workflowId, watch }).catch((error: Error) => this.loseWatch(watch, error.message));
  }

  /** The runs this client follows can no longer be followed: each ends, failed, for its waiter. */
  private loseWatches(reason: string): void {
    for (const watch of [...this.watches.keys()]) this.loseWatch(watch, reason);
  }

  private loseWatch(watch: string, reason: string): void {
    const entry = this.watches.get(watch);
    if (!entry) return;
    this.watches.delete(watch);
    entry.onEvent({ type: 'workflow-ended', workflowId: entry.workflowId ?? '?', status: 'failed', reason: `lost track of the run: ${reason}` });
  }

  private deliver(watch: string, event: WorkflowEvent): void {
    const entry = this.watches.get(watch);
    if (!entry) return;
    if (event.type === 'workflow-ended') this.watches.delete(watch);
    entry.onEvent(event);
  }

  /**
   * Asks the gateway and checks the reply. A call lost with the connection is repeated once it is
   * back when repeating is safe (all but `start`), and so is one refused while the server shuts
   * down (or that found its service already stopped); both until `callTimeoutMs` is up.
   */
  private async call<T extends ClientRequest['type']>(request: Extract<ClientRequest, { type: T }>): Promise<ClientReply<T>> {
    const deadline = Date.now() + this.options.callTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      let reply: unknown;
      let retry: string | undefined;
      try {
        reply = await this.peer.ask(CLIENT_PATH, request, Math.max(1, left));
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (code === 'CONNECTION_LOST' && request.type !== 'start') retry = (error as Error).message;
        // The gateway's client service is gone, so the request was not handled: the runtime is stopping.
        else if (code === 'ACTOR_NOT_FOUND') retry = (error as Error).message;
        else if (code === 'ASK_TIMEOUT') {
          throw new RuntimeError('TIMEOUT', `no answer from the runtime at ${this.options.endpoint} to ${request.type} within ${this.options.callTimeoutMs} ms`);
        } else throw new RuntimeError(code ?? 'FAILED', `${request.type} failed: ${(error as Error).message}`);
      }
      if (retry === undefined) {
        const checker = replyCheckers.get(request.type)!;
        if (!checker.check(reply)) {
          throw new RuntimeError('PROTOCOL_ERROR', `the runtime answered ${request.type} badly at ${checker.explain(reply)}`);
        }
        if (reply.ok) return reply.value as ClientReply<T>;
        if (reply.error.code !== 'SHUTTING_DOWN') throw new RuntimeError(reply.error.code, reply.error.message);
        retry = reply.error.message;
      }
      if (Date.now() + 100 >= deadline) throw new RuntimeError('TIMEOUT', `${request.type} did not get through within ${this.options.callTimeoutMs} ms: ${retry}`);
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 100 * 2 ** attempt)));
    }
  }

  async startWorkflow(name: string, onEvent: (event: WorkflowEvent) => void, storage?: OwnStorage, options?: StartOptions): Promise<string> {
    const watch = randomUUID();
    const entry: Watch = { workflowId: undefined, onEvent };
    this.watches.set(watch, entry);
    try {
      const quiet = options?.progress === false ? { progress: false } : {};
      const { workflowId } = await this.call({ type: 'start', name, watch, ...(storage ? { storage } : {}), ...quiet });
      entry.workflowId = workflowId;
      return workflowId;
    } catch (error) {
      this.watches.delete(watch);
      throw error;
    }
  }

  async submit(workflowId: string, ops: OpSpec[]): Promise<void> {
    // In order: an op's inputs are always in its own batch or an earlier one.
    let batch: OpSpec[] = [];
    let bytes = 0;
    for (const op of ops) {
      const size =
        1024 +
        op.module.length +
        (op.cache?.files?.reduce((sum, [name, hash]) => sum + 8 + name.length * 3 + hash.length, 0) ?? 0) +
        op.args.reduce((sum, arg) => sum + (arg.kind === 'value' ? (arg.ref.inline?.length ?? 0) : 0), 0);
      if (batch.length > 0 && (bytes + size > SUBMIT_BYTES || batch.length === MAX_SUBMIT_OPS)) {
        await this.call({ type: 'submit', workflowId, ops: batch });
        batch = [];
        bytes = 0;
      }
      batch.push(op);
      bytes += size;
    }
    await this.call({ type: 'submit', workflowId, ops: batch });
  }

  finish(workflowId: string, result?: DataRef): Promise<WorkflowStatus> {
    return this.call(result === undefined ? { type: 'finish', workflowId } : { type: 'finish', workflowId, result });
  }

  cancel(workflowId: string, reason: string): Promise<WorkflowStatus> {
    return this.call({ type: 'cancel', workflowId, reason });
  }

  watch(workflowId: string, onEvent: (event: WorkflowEvent) => void): () => void {
    const watch = randomUUID();
    this.watches.set(watch, { workflowId, onEvent });
    this.requestWatch(watch, workflowId);
    return () => {
      if (!this.watches.delete(watch) || this.closing) return;
      this.call({ type: 'unwatch', watch }).catch(() => {}); // the run goes on either way; a lost connection drops the watcher too
    };
  }

  list(skip = 0, limit = MAX_LIST_RUNS): Promise<RunPage> {
    return this.call({ type: 'list', skip, limit: Math.min(limit, MAX_LIST_RUNS) });
  }

  listAllTenants(skip = 0, limit = MAX_LIST_RUNS): Promise<RunPage> {
    return this.call({ type: 'list', skip, limit: Math.min(limit, MAX_LIST_RUNS), allTenants: true });
  }

  describe(workflowId: string, skipOps: number, limitOps: number): Promise<WorkflowDetail> {
    return this.call({ type: 'describe', workflowId, skipOps, limitOps: Math.min(limitOps, MAX_DESCRIBE_OPS) });
  }

  async assign(workflowId: string, fields: WhiteboardField[]): Promise<void> {
    for (let at = 0; at < fields.length; at += MAX_WHITEBOARD_FIELDS) {
      await this.call({ type: 'assign', workflowId, fields: fields.slice(at, at + MAX_WHITEBOARD_FIELDS) });
    }
  }

  async whiteboards(query: WhiteboardQuery): Promise<WhiteboardRecord[]> {
    const records: WhiteboardRecord[] = [];
    for (;;) {
      const page = await this.call({ type: 'whiteboards', query, skip: records.length });
      records.push(...page.records);
      if (!page.more) return records;
    }
  }

  logs(workflowId: string, afterSeq: number, limit: number, waitMs: number): Promise<LogPage> {
    return this.call({ type: 'logs', workflowId, afterSeq, limit: Math.min(limit, MAX_LOG_PAGE), waitMs });
  }

  /** A new token for `tenant` carrying `role`; `FORBIDDEN` unless this connection is an admin's or (for a role of the tenant) an owner's of `tenant`. */
  issueToken(tenant: string, role: Role = 'owner'): Promise<string> {
    return this.call({ type: 'issue-token', tenant, role });
  }

  /** A new join token of the static pool `pool`, for `lzy agent`; admins only. */
  issueJoinToken(pool: string): Promise<string> {
    return this.call({ type: 'issue-join-token', pool });
  }

  /** One JWT access token of the runtime's issuer for `tenant`, valid `ttlSeconds`; admins only. */
  issueJwt(tenant: string, role: Role, ttlSeconds: number): Promise<string> {
    return this.call({ type: 'issue-jwt', tenant, role, ttlSeconds });
  }

  /** A new client (service account) of the runtime's issuer for `tenant`; its secret is shown only here. Admins only. */
  createClient(tenant: string, role: Role): Promise<{ clientId: string; clientSecret: string }> {
    return this.call({ type: 'clients-create', tenant, role });
  }

  /** The issuer's clients, without their secrets; admins only. */
  listClients(): Promise<OidcClientInfo[]> {
    return this.call({ type: 'clients-list' });
  }

  /** Removes a client of the issuer; the tokens it has stay valid until they expire. Admins only. */
  async removeClient(clientId: string): Promise<void> {
    await this.call({ type: 'clients-remove', clientId });
  }

  /** The issuer signs with a new key from now on; tokens of the former one stay valid until they expire. Admins only. */
  async rotateKeys(): Promise<string> {
    return (await this.call({ type: 'keys-rotate' })).kid;
  }

  /** Binds `role` to the subject with id `subject` in `tenant`; admins, or owners of `tenant`. */
  async grantRole(tenant: string, subject: string, role: Role): Promise<void> {
    await this.call({ type: 'grant-role', tenant, subject, role });
  }

  /** Unbinds it; `NOT_FOUND` when it is not bound. Its subject's next call has it no more. */
  async revokeRole(tenant: string, subject: string, role: Role): Promise<void> {
    await this.call({ type: 'revoke-role', tenant, subject, role });
  }

  /** The role bindings of `tenant`, or of every tenant (admins only). */
  listRoles(tenant?: string): Promise<ClientReply<'list-roles'>> {
    return this.call(tenant === undefined ? { type: 'list-roles' } : { type: 'list-roles', tenant });
  }

  async putBlob(workflowId: string, bytes: Buffer): Promise<StoredRef> {
    const size = bytes.length;
    const hash = hashBytes(bytes);
    const uploadId = randomUUID();
    for (let offset = 0; ; offset += CHUNK_BYTES) {
      const end = Math.min(offset + CHUNK_BYTES, bytes.length);
      const last = end === bytes.length;
      await this.call({ type: 'write', workflowId, uploadId, hash, offset, bytes: bytes.subarray(offset, end), last });
      if (last) return storedRef(hash, size);
    }
  }

  async getBlob(ref: DataRef): Promise<Buffer> {
    const uri = uriOf(ref);
    const bytes = Buffer.allocUnsafe(ref.size);
    for (let offset = 0; offset < ref.size; ) {
      const length = Math.min(CHUNK_BYTES, ref.size - offset);
      const chunk = await this.readBlob(uri, offset, length);
      if (chunk.length === 0 || chunk.length > length) {
        throw new RuntimeError('BAD_BLOB', `blob ${uri} answered ${chunk.length} bytes at offset ${offset}; its ref says it has ${ref.size}`);
      }
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    if (hashBytes(bytes) !== ref.hash) throw new RuntimeError('BAD_BLOB', `blob ${uri} does not match its hash`);
    return bytes;
  }

  readBlob(uri: string, offset: number, length: number): Promise<Uint8Array> {
    return this.call({ type: 'read', uri, offset, length });
  }

  /** Closes the connection; runs still followed are no longer followed (they go on in the runtime). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearTimeout(this.giveUpTimer);
      this.credentials?.close();
      this.watches.clear();
      await this.remoting.close();
      this.system.stop();
    })();
    return this.closing;
  }
}

/** The server's reason in a refusal (`… refused the connection: authentication failed: unknown token`). */
function reasonOf(error: Error): string {
  return error.message.replace(/^.*authentication failed: /, '');
}
