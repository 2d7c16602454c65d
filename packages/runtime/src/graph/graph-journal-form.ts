import type { JournalForm } from '@lzy/actors';
import type { DataRef } from '@lzy/node-agent/protocol';
import type { ArgSpec, OpSpec } from '../protocol/client.js';
import type { AttemptTimings, CacheMiss } from '../protocol/client.js';
import type { GraphEvent, OpSuccess } from './graph-state.js';

/** What the calls of one op in a submission have in common: the spec but its id and args. */
type OpShape = Omit<OpSpec, 'id' | 'args'>;

/** An arg as journaled: a value's ref, or the id of the op whose result it takes. */
type StoredArg = DataRef | string;

/**
 * A submission as journaled: each shape once, then each call as (id, shape index, args). A batch
 * of thousands of calls of a few ops stores each op's module, bundle and options once, where the
 * specs repeated them in every call (two thirds of each spec's bytes, and of the time to encode it).
 */
interface StoredOpsAdded {
  type: 'ops-added';
  shapes: OpShape[];
  calls: Array<[id: string, shape: number, args: StoredArg[]]>;
}

/**
 * Successes as journaled: one flat tuple each, its result's ref spread in it (inline bytes, or
 * where it is stored), with no object per result or per ref to encode.
 */
interface StoredOpsSucceeded {
  type: 'ops-succeeded';
  flat: Array<
    [
      opId: string,
      size: number,
      hash: string,
      codec: DataRef['codec'],
      where: Uint8Array | string,
      cached: boolean,
      // How the op ran; absent in successes journaled by earlier versions.
      attempts?: number,
      startedAt?: number,
      endedAt?: number,
      miss?: CacheMiss | null,
      // Where its attempts' time went; absent in successes journaled by earlier versions.
      timings?: AttemptTimings[] | null,
    ]
  >;
}

type StoredGraphEvent = StoredOpsAdded | StoredOpsSucceeded;

/** The journal form of a graph's events; events journaled as they are (earlier versions) restore unchanged. */
export const graphJournalForm: JournalForm<GraphEvent> = {
  stored(event) {
    if (event.type === 'ops-added') return storeOpsAdded(event.ops);
    if (event.type === 'ops-succeeded') return storeOpsSucceeded(event.results);
    return event;
  },
  restored(stored) {
    const event = stored as GraphEvent | StoredGraphEvent;
    if (event.type === 'ops-added' && 'shapes' in event) return restoreOpsAdded(event);
    if (event.type === 'ops-succeeded' && 'flat' in event) return restoreOpsSucceeded(event);
    return event as GraphEvent;
  },
};

type Successes = Extract<GraphEvent, { type: 'ops-succeeded' }>['results'];

function storeOpsSucceeded(results: Successes): StoredOpsSucceeded {
  const flat: StoredOpsSucceeded['flat'] = [];
  for (const { opId, result, cached, attempts, startedAt, endedAt, miss, timings } of results) {
    const where = result.inline ?? result.uri!;
    if (attempts === undefined && startedAt === undefined && endedAt === undefined && miss === undefined && timings === undefined) {
      flat.push([opId, result.size, result.hash, result.codec, where, cached]);
    } else flat.push([opId, result.size, result.hash, result.codec, where, cached, attempts ?? 0, startedAt ?? 0, endedAt ?? 0, miss ?? null, timings ?? null]);
  }
  return { type: 'ops-succeeded', flat };
}

function restoreOpsSucceeded({ flat }: StoredOpsSucceeded): GraphEvent {
  const results: Successes = flat.map(([opId, size, hash, codec, where, cached, attempts, startedAt, endedAt, miss, timings]) => {
    const success: OpSuccess = { opId, result: typeof where === 'string' ? { size, hash, codec, uri: where } : { size, hash, codec, inline: where }, cached };
    if (attempts !== undefined && attempts !== null) success.attempts = attempts;
    if (startedAt) success.startedAt = startedAt;
    if (endedAt) success.endedAt = endedAt;
    if (miss) success.miss = miss;
    if (timings) success.timings = timings;
    return success;
  });
  return { type: 'ops-succeeded', results };
}

function storeOpsAdded(ops: OpSpec[]): StoredOpsAdded {
  const shapes: OpShape[] = [];
  /** Shape indexes by module and export: calls of one op nearly always share one shape. */
  const byOp = new Map<string, number[]>();
  const calls: StoredOpsAdded['calls'] = [];
  let last = -1;
  // Indexed loops: this runs once per submission, over thousands of specs, mostly before it is optimized.
  for (let i = 0; i < ops.length; i++) {
    const spec = ops[i]!;
    let shape = last >= 0 && sameShape(spec, shapes[last]!) ? last : -1;
    if (shape < 0) {
      const key = `${spec.module}\u0000${spec.exportName}`;
      const candidates = byOp.get(key) ?? [];
      shape = candidates.find((index) => sameShape(spec, shapes[index]!)) ?? -1;
      if (shape < 0) {
        const { id: _id, args: _args, ...rest } = spec;
        shape = shapes.push(rest) - 1;
        candidates.push(shape);
        byOp.set(key, candidates);
      }
      last = shape;
    }
    const args: StoredArg[] = [];
    for (let a = 0; a < spec.args.length; a++) {
      const arg = spec.args[a]!;
      args.push(arg.kind === 'op' ? arg.opId : arg.ref);
    }
    calls.push([spec.id, shape, args]);
  }
  return { type: 'ops-added', shapes, calls };
}

function restoreOpsAdded({ shapes, calls }: StoredOpsAdded): GraphEvent {
  const ops: OpSpec[] = calls.map(([id, shape, storedArgs]) => {
    const args: ArgSpec[] = storedArgs.map((arg) => (typeof arg === 'string' ? { kind: 'op', opId: arg } : { kind: 'value', ref: arg }));
    return { id, ...shapes[shape]!, args };
  });
  return { type: 'ops-added', ops };
}

/** Whether `spec` has `shape`: every field but the id and args equal. */
function sameShape(spec: OpSpec, shape: OpShape): boolean {
  return (
    spec.name === shape.name &&
    spec.module === shape.module &&
    spec.exportName === shape.exportName &&
    spec.pool === shape.pool &&
    spec.cpu === shape.cpu &&
    spec.memoryMb === shape.memoryMb &&
    spec.timeoutMs === shape.timeoutMs &&
    (spec.bundle === shape.bundle || (spec.bundle?.hash === shape.bundle?.hash && spec.bundle?.size === shape.bundle?.size && spec.bundle?.uri === shape.bundle?.uri)) &&
    spec.retries.max === shape.retries.max &&
    spec.retries.backoffMs === shape.retries.backoffMs &&
    spec.cache?.version === shape.cache?.version &&
    spec.cache?.codeHash === shape.cache?.codeHash &&
    sameEnv(spec.env, shape.env)
  );
}

function sameEnv(a: Record<string, string>, b: Record<string, string>): boolean {
  if (a === b) return true;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && a[key] === b[key]);
}
