import { ask, spawnActor, stopActor, tell, type ActorRef, type Parent } from '@lzy/actors';
import type { PoolConfig } from '../config.js';
import type { Iam, Subject } from '../iam/iam.js';
import type { OidcIssuer } from '../iam/oidc-issuer.js';
import { serveIdentityRequest, type ClientRoles } from './identity-requests.js';
import type { Resource } from '../iam/authorization.js';
import type { IamMsg } from '../iam/iam-service.js';
import type { Permission } from '../iam/permissions.js';
import type { Role } from '../iam/subject.js';
import { REQUEST_PERMISSIONS, resourceOf } from '../iam/request-access.js';
import type { WorkflowEvent, WorkflowEvents } from '../protocol/client.js';
import type { ClientEvents, ClientReply, ClientRequest, WorkflowInfo } from '../protocol/gateway.js';
import type { WhiteboardRecord } from '../protocol/records.js';
import type { Result } from '../result.js';
import type { BlobStore } from '../storage/blob-store.js';
import type { OwnStorage, RunStorages } from '../storage/run-storages.js';
import type { WorkflowsMsg } from '../workflow/workflows.js';
import type { RuntimeConnection } from '../client.js';

/** A request of a remote client, with the identity its connection proved. */
export type ClientsMsg =
  | {
      type: 'request';
      subject: Subject;
      /** The client's events actor, on the connection the request came on. */
      events: ActorRef<ClientEvents>;
      request: ClientRequest;
      replyTo: ActorRef<Result<unknown>>;
    }
  /** The runtime is shutting down: refuse new work from now on. */
  | { type: 'drain' }
  /** A watcher stopped by itself (its run ended, or its client is gone). */
  | { type: 'watcher-gone'; watcher: ActorRef<WorkflowEvents>; runEnded: boolean };

export interface ClientsDeps {
  readonly iam: Iam;
  /** The runtime's OIDC issuer; absent on the embedded runtime. */
  readonly issuer: () => OidcIssuer | undefined;
  /** Holds the role bindings, and changes them. */
  readonly iamService: ActorRef<IamMsg>;
  /** Decides a request at once, on the bindings as they are now (see `decide`): no message per request. */
  readonly decide: (subject: Subject, permission: Permission | null, resource: Resource) => Result<Role[]>;
  readonly pools: ReadonlyMap<string, PoolConfig>;
  readonly store: BlobStore;
  readonly runStorages: RunStorages;
  readonly workflows: ActorRef<WorkflowsMsg>;
  /** The runtime as `subject`, as an embedded client would see it. */
  readonly connectAs: (subject: Subject) => RuntimeConnection;
}

/** A failed request, with the code the client branches on. */
class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The gateway's service for remote clients: serves each request as the tenant of the connection
 * it came on, once `decide` has authorized it (see `REQUEST_PERMISSIONS`), streams the
 * events of watched runs back over that connection, and, once the runtime is draining, refuses
 * new work with the retryable `SHUTTING_DOWN`. Requests are served
 * concurrently: a slow one (a `finish` waiting for its graph) holds up no other.
 */
export function spawnClients(parent: Parent, deps: ClientsDeps): ActorRef<ClientsMsg> {
  let draining = false;
  /**
   * The gateway's watcher of each watch a client asked for, by tenant and the watch id the client
   * chose: the same watch asked again (the client reconnected) replaces it; any number of other
   * watches, of this client or others, follow the same run beside it.
   */
  const watchers = new Map<string, ActorRef<WorkflowEvents>>();
  const watched = new Map<ActorRef<WorkflowEvents>, { key: string; tenant: string; workflowId: string | undefined }>();

  /** The role bindings of the issuer's clients, kept by the IAM service. */
  const clientRoles: ClientRoles = {
    grant: async (binding) => {
      const reply = await ask(deps.iamService, { type: 'grant', binding }, 30_000);
      if (!reply.ok) throw new Refused(reply.error.code, reply.error.message);
    },
    revokeAll: async (tenant, subject) => {
      const bound = await ask(deps.iamService, { type: 'list', tenant }, 30_000);
      for (const binding of bound.filter((b) => b.subject === subject)) await ask(deps.iamService, { type: 'revoke', binding }, 30_000);
    },
  };

  return spawnActor<undefined, ClientsMsg>(parent, {
    name: 'clients',
    initialState: () => undefined,
    supervision: 'resume',
    receive: (state, msg, ctx) => {
      if (msg.type === 'drain') {
        draining = true;
        return state;
      }
      if (msg.type === 'watcher-gone') {
        forget(msg.watcher, !msg.runEnded);
        return state;
      }
      const { subject, request, events, replyTo } = msg;
      const watcher = (workflowId: string | undefined, watch: string, progress = true) => {
        const ref = spawnWatcher(ctx.self as ActorRef<never>, events, watch, progress, (gone, runEnded) =>
          tell(ctx.self, { type: 'watcher-gone', watcher: gone, runEnded }),
        );
        replaceWatcher(subject, watch, workflowId, ref);
        return ref;
      };
      serve(subject, request, watcher).then(
        (value) => tell(replyTo, { ok: true, value }),
        (error: unknown) =>
          tell(replyTo, {
            ok: false,
            error: {
              code: typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'FAILED',
              message: error instanceof Error ? error.message : String(error),
            },
          }),
      );
      return state;
    },
  });

  /** Keyed by tenant too: a watch id of another tenant's client never stops this one's watcher. */
  function replaceWatcher(subject: Subject, watch: string, workflowId: string | undefined, ref: ActorRef<WorkflowEvents>): void {
    const key = `${subject.tenant}/${watch}`;
    const old = watchers.get(key);
    if (old) unwatch(old);
    watchers.set(key, ref);
    watched.set(ref, { key, tenant: subject.tenant, workflowId });
  }

  /** Stops a watcher and tells its run it has gone. */
  function unwatch(ref: ActorRef<WorkflowEvents>): void {
    stopActor(ref as ActorRef<never>);
    forget(ref, true);
  }

  /** Forgets a watcher that stopped; `tellRun`: its run may still hold it (the run did not end). */
  function forget(ref: ActorRef<WorkflowEvents>, tellRun: boolean): void {
    const entry = watched.get(ref);
    if (!entry) return;
    watched.delete(ref);
    if (watchers.get(entry.key) === ref) watchers.delete(entry.key);
    const { tenant, workflowId } = entry;
    if (tellRun && workflowId !== undefined) tell(deps.workflows, { type: 'to', tenant, workflowId, msg: { type: 'unwatch', watcher: ref } });
  }

  /** The run a `start` watcher follows, once it is known. */
  function started(ref: ActorRef<WorkflowEvents>, workflowId: string): void {
    const entry = watched.get(ref);
    if (entry) entry.workflowId = workflowId;
  }

  async function serve(
    subject: Subject,
    request: ClientRequest,
    watcher: (workflowId: string | undefined, watch: string, progress?: boolean) => ActorRef<WorkflowEvents>,
  ): Promise<ClientReply<ClientRequest['type']>> {
    if (draining && (request.type === 'start' || request.type === 'submit')) {
      throw new Refused('SHUTTING_DOWN', 'the runtime is shutting down; try again once it is back');
    }
    const decision = deps.decide(subject, REQUEST_PERMISSIONS[request.type], resourceOf(subject, request));
    if (!decision.ok) throw new Refused(decision.error.code, decision.error.message);
    const roles = decision.value;
    const connection = deps.connectAs(subject);
    switch (request.type) {
      case 'whoami':
        return { id: subject.id, tenant: subject.tenant, roles };
      case 'start': {
        const ref = watcher(undefined, request.watch, request.progress);
        try {
          const workflowId = await startWorkflow(subject, request.name, ref, request.storage);
          started(ref, workflowId);
          return { workflowId };
        } catch (error) {
          unwatch(ref);
          throw error;
        }
      }
      case 'watch':
        // Another tenant's run is reported exactly like a missing one.
        if (!(await runInfo(subject, request.workflowId))) {
          throw new Refused('NOT_FOUND', `no workflow ${request.workflowId}`);
        }
        tell(deps.workflows, {
          type: 'to',
          tenant: subject.tenant,
          workflowId: request.workflowId,
          msg: { type: 'watch', watcher: watcher(request.workflowId, request.watch) },
        });
        return null;
      case 'unwatch': {
        const ref = watchers.get(`${subject.tenant}/${request.watch}`);
        if (ref) unwatch(ref);
        return null;
      }
      case 'submit':
        await connection.submit(request.workflowId, request.ops);
        return null;
      case 'finish':
        return connection.finish(request.workflowId, request.result);
      case 'cancel':
        return connection.cancel(request.workflowId, request.reason);
      case 'list':
        return request.allTenants ? connection.listAllTenants(request.skip, request.limit) : connection.list(request.skip, request.limit);
      case 'describe':
        return connection.describe(request.workflowId, request.skipOps, request.limitOps);
      case 'assign':
        await connection.assign(request.workflowId, request.fields);
        return null;
      case 'whiteboards':
        return pageOf(await connection.whiteboards(request.query), request.skip);
      case 'logs':
        return connection.logs(request.workflowId, request.afterSeq, request.limit, request.waitMs);
      case 'write':
        await deps.store.writeChunk(subject.tenant, request.workflowId, request);
        return null;
      case 'read':
        // A blob of another tenant is reported exactly like a missing one, and the server's paths stay its own.
        return deps.store.read(subject.tenant, request.uri, request.offset, request.length).catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'ENOENT' ? new Refused('NOT_FOUND', `no blob ${request.uri}`) : error;
        });
      case 'issue-token':
        return deps.iam.issueToken(request.tenant, request.role);
      case 'issue-join-token': {
        if (deps.pools.get(request.pool)?.kind !== 'static') {
          const names = [...deps.pools.values()].filter((pool) => pool.kind === 'static').map((pool) => pool.name);
          throw new Refused('NOT_FOUND', `no static pool named ${request.pool} (static pools: ${names.join(', ') || 'none'})`);
        }
        return deps.iam.issueJoinToken(request.pool);
      }
      case 'issue-jwt':
      case 'clients-create':
      case 'clients-list':
      case 'clients-remove':
      case 'keys-rotate':
        return serveIdentityRequest(request, deps.issuer(), clientRoles);
      case 'grant-role':
      case 'revoke-role': {
        const { tenant, subject: id, role } = request;
        const reply = await ask(deps.iamService, { type: request.type === 'grant-role' ? 'grant' : 'revoke', binding: { tenant, subject: id, role } }, 30_000);
        if (!reply.ok) throw new Refused(reply.error.code, reply.error.message);
        return null;
      }
      case 'list-roles':
        return ask(deps.iamService, { type: 'list', tenant: request.tenant }, 30_000);
    }
  }

  /** The run, if it is the tenant's; a runtime stopping its services answers the retryable `SHUTTING_DOWN`. */
  function runInfo(subject: Subject, workflowId: string): Promise<WorkflowInfo | undefined> {
    return ask(deps.workflows, { type: 'info', tenant: subject.tenant, workflowId }, 120_000).catch((error: Error) => {
      throw new Refused('SHUTTING_DOWN', `the runtime is shutting down (${error.message}); try again once it is back`);
    });
  }

  async function startWorkflow(subject: Subject, name: string, watcher: ActorRef<WorkflowEvents>, storage: OwnStorage | undefined): Promise<string> {
    // A refusal keeps its code (`BAD_STORAGE`): every failure reaches the client with its own.
    if (storage) await deps.runStorages.check(storage, subject.roles.includes('admin'));
    const start = { type: 'start', tenant: subject.tenant, name, watcher, ...(storage ? { storage } : {}) } as const;
    const reply = await ask(deps.workflows, start, 120_000);
    if (!reply.ok) throw new Refused(reply.error.code, reply.error.message);
    return reply.value.workflowId;
  }
}

/** Whiteboards from `skip` on, as many as fit about `BATCH_BYTES` (always at least one). */
function pageOf(records: WhiteboardRecord[], skip: number): { records: WhiteboardRecord[]; more: boolean } {
  let bytes = 0;
  let end = skip;
  while (end < records.length) {
    const record = records[end]!;
    bytes += 1024 + Object.values(record.fields).reduce((sum, ref) => sum + (ref.inline?.length ?? 0) + 256, 0);
    if (bytes > BATCH_BYTES && end > skip) break;
    end++;
  }
  return { records: records.slice(skip, end), more: end < records.length };
}

/** Events sent to a client in one message, at most about this many bytes: well under a frame. */
const BATCH_BYTES = 1024 * 1024;

/**
 * Forwards the events of one run to a remote client's events actor (its `progress` events only
 * when `progress`; a batch of nothing else is not sent). It stops when the run ends, when it is
 * replaced by a newer watch, or when the client's connection is gone (the client watches again
 * once it is back, and the run replays its results).
 */
function spawnWatcher(
  parent: Parent,
  events: ActorRef<ClientEvents>,
  watch: string,
  progress: boolean,
  gone: (self: ActorRef<WorkflowEvents>, runEnded: boolean) => void,
): ActorRef<WorkflowEvents> {
  return spawnActor<undefined, WorkflowEvents>(parent, {
    initialState: () => undefined,
    supervision: 'stop',
    receive: (state, batch, ctx) => {
      let delivered = true;
      const sent = progress ? batch : batch.filter((event) => event.type !== 'progress');
      try {
        for (const part of split(sent)) tell(events, { type: 'events', watch, events: part });
      } catch {
        delivered = false;
      }
      const runEnded = batch.some((event) => event.type === 'workflow-ended');
      if (!delivered || runEnded) {
        stopActor(ctx.self as ActorRef<never>);
        gone(ctx.self, runEnded);
      }
      return state;
    },
  });
}

/** Cuts a batch of events into parts of about `BATCH_BYTES` at most (a large batch of inline results would not fit a frame). */
function split(batch: WorkflowEvent[]): WorkflowEvent[][] {
  const parts: WorkflowEvent[][] = [];
  let part: WorkflowEvent[] = [];
  let bytes = 0;
  for (const event of batch) {
    const size = 512 + (event.type === 'op-succeeded' ? (event.result.inline?.length ?? 0) : event.type === 'op-log' ? event.text.length * 3 : 0);
    if (part.length > 0 && bytes + size > BATCH_BYTES) {
      parts.push(part);
      part = [];
      bytes = 0;
    }
    part.push(event);
    bytes += size;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}
