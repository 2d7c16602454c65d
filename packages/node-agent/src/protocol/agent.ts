import { Type, type Static } from '@sinclair/typebox';
import { BundleRef } from './bundle.js';
import { DataRef } from './data.js';
import { OpFailure } from './failure.js';

/**
 * Messages between the runtime and a node-agent, over `@lzy/actors` remoting. The agent dials the
 * runtime's gateway with its one-time registration token as the handshake credential; the gateway
 * knows from the token which node and tenant the agent is, so no message names them.
 *
 * The agent exposes `AGENT_PATH`; the runtime exposes `NODES_PATH` (agent → runtime) and
 * `STORAGE_PATH` (blob reads and writes of large values).
 */
export const AGENT_PATH = 'agent';
export const NODES_PATH = 'nodes';
export const STORAGE_PATH = 'storage';

const Id = Type.String({ minLength: 1, maxLength: 256 });

/**
 * The handshake credential of an agent joining a static pool (`lzy agent`): the pool it asks for
 * and the pool's join token. The gateway checks both and gives the connection a fresh node identity.
 */
export function joinCredential(pool: string, token: string): string {
  return `join:${pool}:${token}`;
}

/** The pool and token of a join credential; undefined for any other credential. */
export function parseJoinCredential(auth: string): { pool: string; token: string } | undefined {
  const match = /^join:([^:]+):(.+)$/s.exec(auth);
  return match ? { pool: match[1]!, token: match[2]! } : undefined;
}

/**
 * The handshake credential of an agent on a Kubernetes node: its pod's projected ServiceAccount
 * token (audience `lzy`), which the gateway checks with the cluster's TokenReview API and then
 * against the pod and the node it runs on.
 */
export function kubeCredential(token: string): string {
  return `kube:${token}`;
}

/** The projected token of a Kubernetes credential; undefined for any other credential. */
export function parseKubeCredential(auth: string): string | undefined {
  return auth.startsWith('kube:') && auth.length > 5 ? auth.slice(5) : undefined;
}

/** Most attempts, log chunks or results one message carries. */
export const MAX_BATCH = 4096;

/** The code of ops: a module URL and, when the module is shipped, its bundle. */
export const OpModule = Type.Object({
  /** URL of the module that exports the op (`file:///…`), where the client has it. */
  url: Type.String({ maxLength: 4096 }),
  /** The module shipped as a bundle, which the agent fetches and runs; absent = import `url` as it is. */
  bundle: Type.Optional(BundleRef),
});
export type OpModule = Static<typeof OpModule>;

/** One attempt of an op for an agent to run, as a `run` message carries it. */
export const RunEntry = Type.Object({
  attemptId: Id,
  /** The tenant whose op it is: the agent runs only its own tenant's (see `Leased`). */
  tenant: Id,
  /** For log prefixes: `<opName>#<opId>`. */
  opName: Type.String({ maxLength: 512 }),
  /** Which of the message's `modules` exports the op (its index). */
  module: Type.Integer({ minimum: 0, maximum: MAX_BATCH - 1 }),
  exportName: Type.String({ maxLength: 512 }),
  args: Type.Array(DataRef),
  /** Kill the attempt after this long; absent = no limit. */
  timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
  env: Type.Record(Type.String(), Type.String()),
  /** Heap limit of the process running the attempt, in MiB. */
  memoryMb: Type.Optional(Type.Integer({ minimum: 16 })),
});
/**
 * Runtime → agent: run these attempts, each on a runner as soon as one is free, in order. The
 * runtime may send more than the agent has slots: the rest wait on the agent, not on the wire.
 * Each module the attempts use is listed once, in `modules`: many attempts of one op share it.
 */
export const Run = Type.Object({
  type: Type.Literal('run'),
  modules: Type.Array(OpModule, { minItems: 1, maxItems: MAX_BATCH }),
  attempts: Type.Array(RunEntry, { minItems: 1, maxItems: MAX_BATCH }),
});
export type Run = Static<typeof Run>;
export type RunEntry = Static<typeof RunEntry>;

/** One attempt of an op for an agent to run, as the runtime and the agent hold it. */
export type RunAttempt = Omit<RunEntry, 'module'> & { module: string; bundle?: BundleRef };

/** The `run` message of `attempts` (at most MAX_BATCH), each module listed once. */
export function runMessage(attempts: RunAttempt[]): Run {
  const modules: OpModule[] = [];
  const indexOf = new Map<string, number>();
  const entries = attempts.map((attempt): RunEntry => {
    const { module: url, bundle } = attempt;
    const key = bundle ? `${bundle.hash} ${url}` : url;
    let module = indexOf.get(key);
    if (module === undefined) {
      module = modules.push(bundle ? { url, bundle } : { url }) - 1;
      indexOf.set(key, module);
    }
    // Field by field: far cheaper than an object rest on this hot path.
    const entry: RunEntry = { attemptId: attempt.attemptId, tenant: attempt.tenant, opName: attempt.opName, module, exportName: attempt.exportName, args: attempt.args, env: attempt.env };
    if (attempt.timeoutMs !== undefined) entry.timeoutMs = attempt.timeoutMs;
    if (attempt.memoryMb !== undefined) entry.memoryMb = attempt.memoryMb;
    return entry;
  });
  return { type: 'run', modules, attempts: entries };
}

/** The attempts of a `run` message, with their modules; an entry naming no module is left out and reported. */
export function attemptsOf(run: Run, badEntry: (entry: RunEntry) => void): RunAttempt[] {
  const attempts: RunAttempt[] = [];
  for (const entry of run.attempts) {
    const module = run.modules[entry.module];
    if (!module) {
      badEntry(entry);
      continue;
    }
    const attempt: RunAttempt = { attemptId: entry.attemptId, tenant: entry.tenant, opName: entry.opName, module: module.url, exportName: entry.exportName, args: entry.args, env: entry.env };
    if (module.bundle) attempt.bundle = module.bundle;
    if (entry.timeoutMs !== undefined) attempt.timeoutMs = entry.timeoutMs;
    if (entry.memoryMb !== undefined) attempt.memoryMb = entry.memoryMb;
    attempts.push(attempt);
  }
  return attempts;
}

/** Runtime → agent: stop an attempt now; the agent reports it finished with code CANCELLED. */
export const CancelAttempt = Type.Object({ type: Type.Literal('cancel'), attemptId: Id });
/** Runtime → agent: finish running attempts (none new will come), then exit. */
export const Shutdown = Type.Object({ type: Type.Literal('shutdown') });
/**
 * Runtime → agent: the one tenant this node serves from now on, sent when its lease takes it (at
 * registration, or when a static pool leases the joined node), before any `run`. The agent refuses
 * every attempt of another tenant, and any attempt before this message. It carries the node's
 * worker token, bound to the lease, and until when that is good (ms since the epoch); the lease
 * sends it again with a fresh token at half that lifetime, and the agent renews its connection's
 * credential with each.
 */
export const Leased = Type.Object({
  type: Type.Literal('leased'),
  tenant: Id,
  /** The node's id at the runtime, for the agent's log. */
  nodeId: Type.Optional(Id),
  token: Type.String({ minLength: 1, maxLength: 4096 }),
  expiresAt: Type.Integer({ minimum: 0 }),
});

export const AgentWire = Type.Union([Run, CancelAttempt, Shutdown, Leased]);
export type AgentMsg = Static<typeof AgentWire>;

/** Agent → runtime: the agent is up and has `slots` runners. First message after connecting. */
export const Register = Type.Object({
  type: Type.Literal('register'),
  slots: Type.Integer({ minimum: 1, maximum: 1024 }),
  pid: Type.Integer({ minimum: 1 }),
});
/** Agent → runtime, every `heartbeatMs`: the attempts it is running. */
export const Heartbeat = Type.Object({ type: Type.Literal('heartbeat'), running: Type.Array(Id) });
/** A chunk of an attempt's stdout or stderr, split at line ends where possible. */
export const LogChunk = Type.Object({
  attemptId: Id,
  stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]),
  text: Type.String(),
});
export type LogChunk = Static<typeof LogChunk>;
const Ms = Type.Number({ minimum: 0 });
/**
 * Where an attempt's time on its node went besides its run, in ms: fetching its bundle and stored
 * inputs, waiting for a free runner, and storing its result (0 for an inline one).
 */
export const NodePhases = Type.Object({ transferInMs: Ms, waitMs: Ms, transferOutMs: Ms }, { additionalProperties: false });
export type NodePhases = Static<typeof NodePhases>;
/** An attempt ended: reported exactly once per attempt the agent was given. */
export const AttemptFinished = Type.Object({
  attemptId: Id,
  outcome: Type.Union([
    Type.Object({ ok: Type.Literal(true), result: DataRef }),
    Type.Object({ ok: Type.Literal(false), failure: OpFailure }),
  ]),
  /** How long the op ran on its runner, in ms; absent when it never started. */
  runMs: Type.Optional(Type.Number({ minimum: 0 })),
  /** Where the rest of the attempt's time on the node went. */
  phases: Type.Optional(NodePhases),
});
export type AttemptFinished = Static<typeof AttemptFinished>;
/**
 * Agent → runtime: what happened since the last report. An attempt's log chunks come before its
 * `finished` entry, in this report or an earlier one.
 */
export const Report = Type.Object({
  type: Type.Literal('report'),
  logs: Type.Array(LogChunk, { maxItems: MAX_BATCH }),
  finished: Type.Array(AttemptFinished, { maxItems: MAX_BATCH }),
});

export const NodesWire = Type.Union([Register, Heartbeat, Report]);
export type NodesWireMsg = Static<typeof NodesWire>;

/** Write one chunk of a blob, ask: `last` commits it under `hash`. */
export const WriteChunk = Type.Object({
  type: Type.Literal('write'),
  /** Chosen by the writer; chunks of one blob share it. */
  uploadId: Id,
  hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  offset: Type.Integer({ minimum: 0 }),
  bytes: Type.Uint8Array({ maxByteLength: 1024 * 1024 }),
  last: Type.Boolean(),
});
/**
 * Agent → runtime storage: a `WriteChunk` of an output of attempt `attemptId`, which the runtime
 * takes only from the node running that attempt.
 */
export const OutputChunk = Type.Object({ ...WriteChunk.properties, attemptId: Id });
/** Agent → runtime storage, ask: read up to `length` bytes of a blob from `offset`; only a bundle or an input of an attempt the node runs. */
export const ReadChunk = Type.Object({
  type: Type.Literal('read'),
  uri: Type.String({ maxLength: 2048 }),
  offset: Type.Integer({ minimum: 0 }),
  length: Type.Integer({ minimum: 1, maximum: 1024 * 1024 }),
});
const Hash = Type.String({ pattern: '^[0-9a-f]{64}$' });
/**
 * Agent → runtime storage, ask: a URL to GET blob `uri` with (a bundle or an input of an attempt
 * the node runs), or `null` where storage serves reads in chunks only.
 */
export const PresignRead = Type.Object({ type: Type.Literal('presign-read'), uri: Type.String({ maxLength: 2048 }) });
/**
 * Agent → runtime storage, ask: a URL to PUT exactly `size` bytes with hash `hash`, an output of
 * attempt `attemptId`, or `null` where storage takes writes in chunks only. Without `hash`: a URL
 * where storage names the blob by hashing it as it arrives (the PUT's answer has the hash as its
 * ETag), so a large file is read once; `null` where the writer must name it. Once put, the agent
 * sends `commit` with the hash and size, answered `true` when the blob is stored.
 */
export const PresignWrite = Type.Object({ type: Type.Literal('presign-write'), attemptId: Id, hash: Type.Optional(Hash), size: Type.Integer({ minimum: 0 }) });
export const CommitWrite = Type.Object({ type: Type.Literal('commit'), attemptId: Id, hash: Hash, size: Type.Integer({ minimum: 0 }) });
/**
 * Agent → runtime storage, ask: begin a multipart upload of `size` bytes with hash `hash`, an
 * output of attempt `attemptId` (a large file value). Answered `{ uploadId, partSize }`, or `null`
 * where storage takes writes in chunks only. Every part but the last has `partSize` bytes.
 */
export const MultipartCreate = Type.Object({ type: Type.Literal('multipart-create'), attemptId: Id, hash: Hash, size: Type.Integer({ minimum: 0 }) });
/** The answer to `multipart-create` where storage takes multipart uploads. */
const UploadId = Type.String({ minLength: 1, maxLength: 1024 });
export const MultipartUpload = Type.Object({ uploadId: UploadId, partSize: Type.Integer({ minimum: 1 }) });
export type MultipartUpload = Static<typeof MultipartUpload>;
const PartNumber = Type.Integer({ minimum: 1, maximum: 10_000 });
/** Agent → runtime storage, ask: a URL to PUT part `partNumber` of the upload with (exactly its bytes). */
export const MultipartPart = Type.Object({ type: Type.Literal('multipart-part'), attemptId: Id, uploadId: UploadId, partNumber: PartNumber });
/** Agent → runtime storage, ask: every part is up (with the ETag each PUT answered): the blob is stored, answered `true`. */
export const MultipartComplete = Type.Object({
  type: Type.Literal('multipart-complete'),
  attemptId: Id,
  uploadId: UploadId,
  parts: Type.Array(Type.Object({ partNumber: PartNumber, etag: Type.String({ minLength: 1, maxLength: 1024 }) }), { minItems: 1, maxItems: 10_000 }),
});
/** Agent → runtime storage, ask: give the upload up (its parts are dropped); answered `true`. */
export const MultipartAbort = Type.Object({ type: Type.Literal('multipart-abort'), attemptId: Id, uploadId: UploadId });
export const StorageWire = Type.Union([OutputChunk, ReadChunk, PresignRead, PresignWrite, CommitWrite, MultipartCreate, MultipartPart, MultipartComplete, MultipartAbort]);
export type StorageWireMsg = Static<typeof StorageWire>;

/** Largest chunk of a blob in one storage message. */
export const CHUNK_BYTES = 1024 * 1024;
