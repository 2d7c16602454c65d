import { Type, type Static } from '@sinclair/typebox';
import { BundleRef, DataRef, OpFailure } from '@lzy/node-agent/protocol';

/**
 * What a client (the SDK) submits: the calls of a workflow, as a graph. Each op names the module
 * and export that define it; its args are values (refs) or results of other ops of the workflow.
 */
export const ArgSpec = Type.Union([
  Type.Object({ kind: Type.Literal('value'), ref: DataRef }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('op'), opId: Type.String({ minLength: 1, maxLength: 256 }) }, { additionalProperties: false }),
]);
export type ArgSpec = Static<typeof ArgSpec>;

/**
 * A cached op's code: `codeHash` covers its bundle (the op's module, every local file it imports,
 * the versions of the packages it bundles); `files` names each of them with its own hash, so a
 * miss can say which one changed.
 */
export const CacheSpec = Type.Object(
  {
    version: Type.String({ maxLength: 256 }),
    codeHash: Type.String({ maxLength: 128 }),
    /** `[name, hash]`: a local file by its path relative to the op's module, or `npm:NAME` with the package's version. */
    files: Type.Optional(Type.Array(Type.Tuple([Type.String({ maxLength: 1024 }), Type.String({ maxLength: 128 })]), { maxItems: 4096 })),
  },
  { additionalProperties: false },
);
export type CacheSpec = Static<typeof CacheSpec>;

/**
 * Why a cached op ran instead of taking its result from the cache: it never ran with this key
 * (`never-cached`), its code or `version` changed since it last ran, its inputs differ, its
 * last run with the same key failed, or its cached result was in temporary storage that expired. `files` names what changed in its code, where known.
 */
export const CacheMiss = Type.Object({
  reason: Type.Union([
    Type.Literal('never-cached'),
    Type.Literal('code-changed'),
    Type.Literal('version-changed'),
    Type.Literal('inputs-changed'),
    Type.Literal('previous-failed'),
    Type.Literal('result-expired'),
  ]),
  files: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 4096 })),
});
export type CacheMiss = Static<typeof CacheMiss>;

export const OpSpec = Type.Object(
  {
    /** Unique in the workflow; the SDK derives it from the call, so identical calls share it. */
    id: Type.String({ minLength: 1, maxLength: 256 }),
    /** Human name for logs and errors: the export name. */
    name: Type.String({ minLength: 1, maxLength: 512 }),
    module: Type.String({ minLength: 1, maxLength: 4096 }),
    exportName: Type.String({ minLength: 1, maxLength: 512 }),
    /**
     * The module shipped: a bundle the client put in the tenant's storage, which the op's agents
     * fetch and run. Absent, agents import `module` as it is, which must then exist on the node.
     */
    bundle: Type.Optional(BundleRef),
    args: Type.Array(ArgSpec, { maxItems: 1024 }),
    pool: Type.Optional(Type.String({ maxLength: 128 })),
    cpu: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    memoryMb: Type.Optional(Type.Integer({ minimum: 16 })),
    retries: Type.Object({ max: Type.Integer({ minimum: 0, maximum: 100 }), backoffMs: Type.Integer({ minimum: 0 }) }),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    env: Type.Record(Type.String(), Type.String()),
    /** Present when the op is cached: the cache key adds the inputs' hashes at run time. */
    cache: Type.Optional(CacheSpec),
  },
  { additionalProperties: false },
);
export type OpSpec = Static<typeof OpSpec>;

const Id = Type.String({ minLength: 1, maxLength: 256 });
const Count = Type.Integer({ minimum: 0 });

/** How many ops of a workflow are in each state; `succeeded` counts those taken from the cache too, `cached` those alone. */
export const OpCounts = Type.Object({
  waiting: Count,
  queued: Count,
  running: Count,
  succeeded: Count,
  cached: Count,
  failed: Count,
  cancelled: Count,
});
export type OpCounts = Static<typeof OpCounts>;

export const WorkflowStatus = Type.Union([Type.Literal('active'), Type.Literal('finished'), Type.Literal('failed'), Type.Literal('cancelled')]);
export type WorkflowStatus = Static<typeof WorkflowStatus>;

/**
 * What a workflow tells its watcher as it runs. The schema is the type: remote clients check every
 * event they receive against it, so a new kind of event is added here, once, for both.
 */
export const WorkflowEvent = Type.Union([
  Type.Object({ type: Type.Literal('op-succeeded'), workflowId: Id, opId: Id, result: DataRef, cached: Type.Boolean() }),
  /** A cached op runs: why its result was not in the cache. */
  Type.Object({ type: Type.Literal('op-cache-miss'), workflowId: Id, opId: Id, opName: Type.String(), miss: CacheMiss }),
  Type.Object({ type: Type.Literal('op-failed'), workflowId: Id, opId: Id, opName: Type.String(), attempt: Count, failure: OpFailure }),
  Type.Object({
    type: Type.Literal('op-log'),
    workflowId: Id,
    opId: Id,
    opName: Type.String(),
    stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
    text: Type.String(),
  }),
  Type.Object({
    type: Type.Literal('op-retrying'),
    workflowId: Id,
    opId: Id,
    opName: Type.String(),
    attempt: Count,
    failure: OpFailure,
    delayMs: Count,
  }),
  Type.Object({ type: Type.Literal('progress'), workflowId: Id, counts: OpCounts }),
  /** `result`: the value the workflow function returned, when the client recorded one with `finish`. */
  Type.Object({
    type: Type.Literal('workflow-ended'),
    workflowId: Id,
    status: WorkflowStatus,
    reason: Type.Optional(Type.String()),
    result: Type.Optional(DataRef),
  }),
]);
export type WorkflowEvent = Static<typeof WorkflowEvent>;

/** Events of one workflow that happened together, in order: what a watcher actor receives. */
export type WorkflowEvents = WorkflowEvent[];

const Time = Type.Integer({ minimum: 0 });

/** An op's state as `lzy status` shows it: `cached` is a success taken from the cache. */
export const OpState = Type.Union([
  Type.Literal('waiting'),
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('cached'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export type OpState = Static<typeof OpState>;

const Ms = Type.Number({ minimum: 0 });

/**
 * Where one attempt of an op spent its time, in ms: `queueMs` waiting for a slot (in the
 * scheduler, and on its node for a free runner), `allocateMs` waiting for its node to be leased and
 * register (when no node of its tenant was up when it was queued), `transferInMs` fetching its
 * bundle and stored inputs to the node, `runMs` running, `transferOutMs` storing its result.
 */
export const AttemptTimings = Type.Object({
  attempt: Count,
  /** The node it was given to; absent when it never reached one. */
  nodeId: Type.Optional(Id),
  ok: Type.Boolean(),
  queueMs: Ms,
  allocateMs: Ms,
  transferInMs: Ms,
  runMs: Ms,
  transferOutMs: Ms,
});
export type AttemptTimings = Static<typeof AttemptTimings>;

/**
 * One op of a run: its state, how many attempts it took, when it started running (its first
 * attempt given to a node, or the cache hit) and when it ended, and why it missed the cache.
 * `after`: the ops whose results it takes; `timings`: where each attempt's time went, and
 * `commitMs` how long its outcome took to be journaled (absent for outcomes journaled before the
 * runtime's last start).
 */
export const OpInfo = Type.Object({
  opId: Id,
  name: Type.String(),
  state: OpState,
  attempts: Count,
  startedAt: Type.Optional(Time),
  endedAt: Type.Optional(Time),
  miss: Type.Optional(CacheMiss),
  after: Type.Optional(Type.Array(Id)),
  timings: Type.Optional(Type.Array(AttemptTimings)),
  commitMs: Type.Optional(Ms),
});
export type OpInfo = Static<typeof OpInfo>;
