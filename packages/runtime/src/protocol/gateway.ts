import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { DataRef, ReadChunk, WriteChunk } from '@lzy/node-agent/protocol';
import { OpCounts, OpInfo, OpSpec, WorkflowEvent, WorkflowStatus } from './client.js';
import { ROLES } from '../iam/subject.js';
import { LogPage, MAX_WHITEBOARD_FIELDS, WhiteboardField, WhiteboardQuery, WhiteboardRecord } from './records.js';

/**
 * What a remote client (the SDK's `Lzy.connect`) and the runtime's gateway say to each other, over
 * `@lzy/actors` remoting. The client dials the gateway with its tenant token as the handshake
 * credential; every request is an ask to `CLIENT_PATH` whose tenant is the token's, never a field.
 * Each reply is a `ClientResult`. The gateway tells the events of the workflows the client watches
 * to the client's own `EVENTS_PATH`, tagged with the watch id the client chose.
 */
export const CLIENT_PATH = 'client';
export const EVENTS_PATH = 'events';

const Id = Type.String({ minLength: 1, maxLength: 256 });
const WatchId = Type.String({ minLength: 1, maxLength: 64 });
const Role = Type.Union(ROLES.map((role) => Type.Literal(role)));
const TenantName = Type.String({ minLength: 1, maxLength: 63 });
const RoleBindingFields = { tenant: TenantName, subject: Type.String({ minLength: 1, maxLength: 1024 }), role: Role };

/** The longest lifetime of a JWT that `issue-jwt` makes (24 h). */
export const MAX_JWT_TTL_S = 24 * 60 * 60;

/** A run's own bucket, as `lzy.workflow(name, fn, { storage })` names it. */
export const OwnStorage = Type.Object(
  {
    bucket: Type.String({ minLength: 3, maxLength: 63 }),
    prefix: Type.Optional(Type.String({ maxLength: 512 })),
    endpoint: Type.Optional(Type.String({ pattern: '^https?://', maxLength: 2048 })),
    region: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    pathStyle: Type.Optional(Type.Boolean()),
    credentials: Type.Optional(
      Type.Object(
        { accessKeyId: Type.String({ minLength: 1, maxLength: 256 }), secretAccessKey: Type.String({ minLength: 1, maxLength: 1024 }), sessionToken: Type.Optional(Type.String({ maxLength: 4096 })) },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

const request = <T extends string, P extends Record<string, TSchema>>(type: T, properties: P) =>
  Type.Object({ type: Type.Literal(type), ...properties }, { additionalProperties: false });

/** Largest number of ops in one `submit`; the client splits larger graphs. */
export const MAX_SUBMIT_OPS = 10_000;

/** Most log entries one `logs` request returns. */
export const MAX_LOG_PAGE = 1000;

/** Most ops one `describe` request returns; the client pages through larger runs. */
export const MAX_DESCRIBE_OPS = 2000;
/** The most runs one `list` answers; the rest are paged with `skip`. */
export const MAX_LIST_RUNS = 1000;

export const ClientRequest = Type.Union([
  request('whoami', {}),
  /**
   * Starts a run; its events go to the client's `EVENTS_PATH` tagged `watch`, but for `progress`
   * when `progress` is false (a client that shows no counts is spared a message per op state
   * change); its values to `storage` when it names one.
   */
  request('start', {
    name: Type.String({ minLength: 1, maxLength: 256 }),
    watch: WatchId,
    storage: Type.Optional(OwnStorage),
    progress: Type.Optional(Type.Boolean()),
  }),
  /** Follows an existing run from now on, after a replay of its results so far. */
  request('watch', { workflowId: Id, watch: WatchId }),
  /** Stops following the run of watch `watch`; the run goes on. */
  request('unwatch', { watch: WatchId }),
  request('submit', { workflowId: Id, ops: Type.Array(OpSpec, { maxItems: MAX_SUBMIT_OPS }) }),
  /** Ends the run once nothing runs; `result` is the workflow function's value, kept for those who attach. */
  request('finish', { workflowId: Id, result: Type.Optional(DataRef) }),
  request('cancel', { workflowId: Id, reason: Type.String({ maxLength: 4096 }) }),
  /** The tenant's runs newest first, from the `skip`-th on (at most `limit`); `more` counts the older ones left. `allTenants`: every tenant's, each with its tenant (admins only). */
  request('list', { skip: Type.Integer({ minimum: 0 }), limit: Type.Integer({ minimum: 1, maximum: MAX_LIST_RUNS }), allTenants: Type.Optional(Type.Boolean()) }),
  /** One run with its ops from the `skipOps`-th on (at most `limitOps`), in the order they were submitted. */
  request('describe', { workflowId: Id, skipOps: Type.Integer({ minimum: 0 }), limitOps: Type.Integer({ minimum: 1, maximum: MAX_DESCRIBE_OPS }) }),
  request('assign', { workflowId: Id, fields: Type.Array(WhiteboardField, { minItems: 1, maxItems: MAX_WHITEBOARD_FIELDS }) }),
  /** The matching whiteboards from the `skip`-th on, as many as fit a reply; `more` says whether others follow. */
  request('whiteboards', { query: WhiteboardQuery, skip: Type.Integer({ minimum: 0 }) }),
  request('logs', {
    workflowId: Id,
    afterSeq: Type.Integer({ minimum: 0 }),
    limit: Type.Integer({ minimum: 1, maximum: MAX_LOG_PAGE }),
    waitMs: Type.Integer({ minimum: 0, maximum: 60_000 }),
  }),
  /** Blobs travel in chunks of at most `CHUNK_BYTES`, as between the runtime and its nodes; each written blob is a value of run `workflowId`. */
  Type.Object({ ...WriteChunk.properties, workflowId: Id }, { additionalProperties: false }),
  ReadChunk,
  /** Admins, or owners of `tenant`: a new token for `tenant`, carrying `role` (an `admin` token: admins only). */
  request('issue-token', { tenant: TenantName, role: Role }),
  /** Admins only: a new join token of the static pool `pool`, for `lzy agent`. */
  request('issue-join-token', { pool: Type.String({ minLength: 1, maxLength: 63 }) }),
  /** Admins, or owners of `tenant`: binds `role` to the subject with id `subject` there (only an admin may bind `admin`). */
  request('grant-role', RoleBindingFields),
  /** Admins, or owners of `tenant`: unbinds it; `NOT_FOUND` when it is not bound. */
  request('revoke-role', RoleBindingFields),
  /** Admins, or owners of `tenant`: the role bindings of `tenant`; of every tenant without one (admins only). */
  request('list-roles', { tenant: Type.Optional(TenantName) }),
  /** Admins only, on a runtime with an OIDC issuer: one JWT access token for `tenant`, valid `ttlSeconds`. */
  request('issue-jwt', { tenant: TenantName, role: Role, ttlSeconds: Type.Integer({ minimum: 1, maximum: MAX_JWT_TTL_S }) }),
  /** Admins only: a new client (service account) of the issuer, for `tenant`, whose tokens carry `role`. */
  request('clients-create', { tenant: TenantName, role: Role }),
  request('clients-list', {}),
  request('clients-remove', { clientId: Type.String({ minLength: 1, maxLength: 128 }) }),
  /** Admins only: the issuer signs with a new key from now on; tokens of the former one stay valid until they expire. */
  request('keys-rotate', {}),
]);
export type ClientRequest = Static<typeof ClientRequest>;

export const WorkflowInfo = Type.Object({
  workflowId: Id,
  name: Type.String(),
  status: WorkflowStatus,
  startedAt: Type.Integer(),
  endedAt: Type.Optional(Type.Integer()),
  /** Whose run it is: in a listing of every tenant's runs. */
  tenant: Type.Optional(TenantName),
});
/** A workflow run as listed by `list`. */
export type WorkflowInfo = Static<typeof WorkflowInfo>;

export const RunPage = Type.Object({ runs: Type.Array(WorkflowInfo), more: Type.Integer({ minimum: 0 }) });
/** A page of a tenant's runs, newest first, and how many older ones follow it. */
export type RunPage = Static<typeof RunPage>;

export const WorkflowDetail = Type.Object({
  run: WorkflowInfo,
  /** Why the run failed or was cancelled. */
  reason: Type.Optional(Type.String()),
  counts: OpCounts,
  ops: Type.Array(OpInfo),
  /** More ops follow after these. */
  more: Type.Boolean(),
});
/** A run and a page of its ops, as `describe` answers. */
export type WorkflowDetail = Static<typeof WorkflowDetail>;

export const OidcClientInfo = Type.Object({ clientId: Type.String(), tenant: Type.String(), createdAt: Type.Integer() });
/** A client of the runtime's issuer as `clients-list` answers: never its secret (its roles are role bindings of `client:<clientId>`). */
export type OidcClientInfo = Static<typeof OidcClientInfo>;

/** The value each request answers with when it succeeds. */
export const ClientReplies = {
  whoami: Type.Object({ id: Type.String(), tenant: Type.String(), roles: Type.Array(Role) }),
  start: Type.Object({ workflowId: Id }),
  watch: Type.Null(),
  unwatch: Type.Null(),
  submit: Type.Null(),
  finish: WorkflowStatus,
  cancel: WorkflowStatus,
  list: RunPage,
  describe: WorkflowDetail,
  assign: Type.Null(),
  whiteboards: Type.Object({ records: Type.Array(WhiteboardRecord), more: Type.Boolean() }),
  logs: LogPage,
  write: Type.Null(),
  read: Type.Uint8Array(),
  'issue-token': Type.String(),
  'issue-join-token': Type.String(),
  'grant-role': Type.Null(),
  'revoke-role': Type.Null(),
  'list-roles': Type.Array(Type.Object(RoleBindingFields)),
  'issue-jwt': Type.String(),
  'clients-create': Type.Object({ clientId: Type.String(), clientSecret: Type.String() }),
  'clients-list': Type.Array(OidcClientInfo),
  'clients-remove': Type.Null(),
  'keys-rotate': Type.Object({ kid: Type.String() }),
} satisfies Record<ClientRequest['type'], TSchema>;
export type ClientReply<T extends ClientRequest['type']> = Static<(typeof ClientReplies)[T]>;

/** Every reply: the value, or an error with a stable code (e.g. `NOT_FOUND`, `FORBIDDEN`, `SHUTTING_DOWN`). */
export const ClientResult = <S extends TSchema>(value: S) =>
  Type.Union([
    Type.Object({ ok: Type.Literal(true), value }),
    Type.Object({ ok: Type.Literal(false), error: Type.Object({ code: Type.String({ maxLength: 128 }), message: Type.String() }) }),
  ]);

/** Gateway → client: events of a watched run that happened together, in order. */
export const ClientEvents = Type.Object(
  { type: Type.Literal('events'), watch: WatchId, events: Type.Array(WorkflowEvent, { minItems: 1 }) },
  { additionalProperties: false },
);
export type ClientEvents = Static<typeof ClientEvents>;
