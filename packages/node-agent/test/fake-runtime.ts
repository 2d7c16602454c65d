// The runtime's side of the agent protocol, for tests: a real Remoting server that checks the token,
// records what agents send to NODES_PATH, and keeps blobs for STORAGE_PATH in a Map.
import { randomUUID } from 'node:crypto';
import { Remoting, spawnActor, startActorSystem, tell, type ActorRef } from '@lzy/actors';
import {
  AGENT_PATH,
  NODES_PATH,
  NodesWire,
  STORAGE_PATH,
  StorageWire,
  blobUri,
  decodeValue,
  encodeValue,
  hashBytes,
  refFor,
  runMessage,
  storedRef,
  type AgentMsg,
  type AttemptFinished,
  type DataRef,
  type StoredRef,
  type LogChunk,
  type NodesWireMsg,
  type RunAttempt,
  type StorageWireMsg,
} from '../src/protocol/index.js';
import { waitUntil, type Teardown } from './harness.js';

type Finished = AttemptFinished & { type: 'attempt-finished' };
type Log = LogChunk & { type: 'log' };
/** What an agent sent, with each report's entries one by one, in the order the runtime reads them. */
export type Received = Exclude<NodesWireMsg, { type: 'report' }> | Log | Finished;
type StorageAsk =
  | (Extract<StorageWireMsg, { type: 'write' }> & { replyTo: ActorRef<true | Error> })
  | (Extract<StorageWireMsg, { type: 'read' }> & { replyTo: ActorRef<Uint8Array | Error> })
  | (Extract<StorageWireMsg, { type: 'presign-read' | 'presign-write' | 'commit' }> & { replyTo: ActorRef<null | Error> });
type NodesMsg = { msg: NodesWireMsg; agent: ActorRef<AgentMsg> };

/** URL of the fixture module with the test ops. */
export const OPS = new URL('./fixtures/ops.js', import.meta.url).href;

/** What the test sets of a run; the rest has defaults. */
export type RunSpec = Partial<Omit<RunAttempt, 'args'>> & { exportName: string; args?: unknown[]; refs?: DataRef[] };

/** A runtime stand-in for one test. */
export interface FakeRuntime {
  readonly url: string;
  readonly token: string;
  /** Every message agents sent to NODES_PATH, in order, reports taken apart. */
  readonly received: Received[];
  /** How many reports arrived. */
  reports(): number;
  /** Every storage request, in order. */
  readonly storageRequests: StorageWireMsg[];
  /** Stored blobs by URI. */
  readonly blobs: Map<string, Buffer>;
  /** The agent that registered (waits for it). */
  agent(): Promise<ActorRef<AgentMsg>>;
  /** Sends a `run` of one attempt (args encoded inline unless `refs` are given); returns its attempt id. */
  run(spec: RunSpec): Promise<string>;
  /** Sends one `run` of several attempts, so the agent gets them at once; returns their attempt ids, in order. */
  runAll(specs: RunSpec[]): Promise<string[]>;
  /** The outcome of an attempt, once its `attempt-finished` arrived. */
  outcome(attemptId: string, timeoutMs?: number): Promise<Finished['outcome']>;
  /** The `log` messages of an attempt so far. */
  logs(attemptId: string): Log[];
  /** Stores `value` encoded as a blob and returns its ref without `inline`. */
  store(value: unknown): StoredRef;
  /** Stops listening and drops every connection, as a crashed runtime would. */
  stop(): Promise<void>;
}

/**
 * Runs a batch of short ops on the agent and waits for their results, so that afterwards the agent
 * counts its ops as short and sends attempts behind a running one. Returns the process id of the
 * runner each ran in.
 */
export async function runShortOps(runtime: FakeRuntime, count = 64): Promise<number[]> {
  const ids = await runtime.runAll(Array.from({ length: count }, () => ({ exportName: 'runnerPid' })));
  return Promise.all(
    ids.map(async (attemptId) => {
      const outcome = await runtime.outcome(attemptId);
      if (!outcome.ok) throw new Error(`a short op failed: ${outcome.failure.message}`);
      return decodeValue(outcome.result.inline!) as number;
    }),
  );
}

/** The tenant the fake runtime leases its agent's node to, and whose attempts it sends unless told otherwise. */
export const TENANT = 'tenant-a';

/** Starts a fake runtime that accepts agents presenting `token`, and leases their node to `TENANT`; closed at teardown. */
export async function startFakeRuntime(t: Teardown, token = `token-${randomUUID()}`): Promise<FakeRuntime> {
  const system = startActorSystem();
  const received: Received[] = [];
  let reports = 0;
  const storageRequests: StorageWireMsg[] = [];
  const blobs = new Map<string, Buffer>();
  const uploads = new Map<string, Buffer[]>();
  let agentRef: ActorRef<AgentMsg> | undefined;

  const nodes = spawnActor<undefined, NodesMsg>(system, {
    initialState: () => undefined,
    receive: (state, { msg, agent }) => {
      if (msg.type === 'report') {
        reports++;
        received.push(...msg.logs.map((log): Log => ({ type: 'log', ...log })));
        received.push(...msg.finished.map((entry): Finished => ({ type: 'attempt-finished', ...entry })));
      } else received.push(msg);
      if (msg.type === 'register') {
        tell(agent, { type: 'leased', tenant: TENANT, token: 'fake-worker-token', expiresAt: Date.now() + 600_000 });
        agentRef = agent;
      }
      return state;
    },
  });
  const storage = spawnActor<undefined, StorageAsk>(system, {
    initialState: () => undefined,
    receive: (state, request) => {
      const { replyTo, ...wire } = request;
      storageRequests.push(wire as StorageWireMsg);
      // Like the runtime's file store: blobs move in chunks, with no URLs to give.
      if (request.type === 'presign-read' || request.type === 'presign-write') {
        tell(request.replyTo, null);
        return state;
      }
      if (request.type === 'commit') {
        tell(request.replyTo, new Error('nothing to commit: blobs move in chunks here'));
        return state;
      }
      if (request.type === 'read') {
        const blob = blobs.get(request.uri);
        tell(request.replyTo, blob ? blob.subarray(request.offset, request.offset + request.length) : new Error(`no blob ${request.uri}`));
        return state;
      }
      const parts = uploads.get(request.uploadId) ?? [];
      uploads.set(request.uploadId, parts);
      parts.push(Buffer.from(request.bytes));
      if (request.last) {
        uploads.delete(request.uploadId);
        const bytes = Buffer.concat(parts);
        if (hashBytes(bytes) !== request.hash) {
          tell(request.replyTo, new Error(`upload ${request.uploadId}: hash mismatch`));
          return state;
        }
        blobs.set(blobUri(request.hash), bytes);
      }
      tell(request.replyTo, true);
      return state;
    },
  });

  const remoting = new Remoting({
    name: 'fake-runtime',
    authenticate: (auth) => {
      if (auth !== token) throw new Error('unknown token');
      return { nodeId: 'node-1' };
    },
    // The agent renews its credential with the worker token its lease gave it.
    reauthenticate: (auth, current) => {
      if (auth !== 'fake-worker-token') throw new Error('not the worker token this runtime gave');
      return current;
    },
  });
  remoting.expose(NODES_PATH, nodes, {
    schema: NodesWire,
    withOrigin: (msg, origin) => ({ msg, agent: origin.peer.ref<AgentMsg>(AGENT_PATH) }),
  });
  remoting.expose(STORAGE_PATH, storage, { schema: StorageWire });
  const { url } = await remoting.listen();
  const stop = () => remoting.close();
  t.teardown(async () => {
    await stop();
    system.stop();
  });

  const agent = () => waitUntil(() => agentRef, 'an agent to register');
  const runAll = async (specs: RunSpec[]): Promise<string[]> => {
    const runs = specs.map(({ args = [], refs, ...rest }): RunAttempt => ({
      opName: rest.exportName,
      tenant: TENANT,
      module: OPS,
      env: {},
      ...rest,
      attemptId: rest.attemptId ?? `at-${randomUUID().slice(0, 8)}`,
      args: refs ?? args.map((arg) => refFor(encodeValue(arg))),
    }));
    tell(await agent(), runMessage(runs));
    return runs.map((run) => run.attemptId);
  };
  const finished = (attemptId: string) =>
    received.find((msg): msg is Finished => msg.type === 'attempt-finished' && msg.attemptId === attemptId);
  return {
    url,
    token,
    received,
    reports: () => reports,
    storageRequests,
    blobs,
    agent,
    run: async (spec) => (await runAll([spec]))[0]!,
    runAll,
    outcome: async (attemptId, timeoutMs) => (await waitUntil(() => finished(attemptId), `attempt ${attemptId} to finish`, timeoutMs)).outcome,
    logs: (attemptId) => received.filter((msg): msg is Log => msg.type === 'log' && msg.attemptId === attemptId),
    store: (value) => {
      const bytes = encodeValue(value);
      const ref = storedRef(hashBytes(bytes), bytes.length);
      blobs.set(ref.uri, bytes);
      return ref;
    },
    stop,
  };
}
