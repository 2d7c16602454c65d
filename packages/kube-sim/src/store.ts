// The objects of the cluster, with one resourceVersion counter for all of them: create, read,
// replace, patch and delete with the metadata rules of the real API server (uid, generation,
// preconditions, finalizers, graceful deletion of pods), each change published to the watch hub.
import { randomUUID } from 'node:crypto';
import { timestamp, type Clock } from './clock.js';
import { apiVersionOf, namespaceKind, podKind, STORED_KINDS, type KindSpec } from './kinds/index.js';
import { clone, isObject, objectAt, stringAt, type JsonObject } from './json.js';
import type { Selector } from './selectors.js';
import { ApiError, invalid } from './status.js';
import { dnsLabelErrors, dnsSubdomainErrors, labelErrors, required } from './kinds/validation.js';
import type { WatchHub } from './watch-hub.js';

/** The namespaces every cluster starts with. */
export const BUILT_IN_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** How a delete goes: `gracePeriodSeconds` 0 removes a pod at once; a uid/resourceVersion precondition must hold. */
export interface DeleteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** A page of a list: the matching objects and the resourceVersion to watch from. */
export interface ListResult {
  items: JsonObject[];
  resourceVersion: string;
}

function key(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function metadataOf(object: JsonObject): JsonObject {
  const metadata = objectAt(object, 'metadata') ?? {};
  object.metadata = metadata;
  return metadata;
}

function resourceName(kind: KindSpec): string {
  return kind.group === '' ? kind.plural : `${kind.plural}.${kind.group}`;
}

/** The 404 of an object that is not stored. */
export function notFound(kind: KindSpec, name: string): ApiError {
  return new ApiError('NotFound', `${resourceName(kind)} "${name}" not found`, { name, group: kind.group, kind: kind.plural });
}

function conflict(kind: KindSpec, name: string): ApiError {
  return new ApiError(
    'Conflict',
    `Operation cannot be fulfilled on ${resourceName(kind)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: kind.group, kind: kind.plural },
  );
}

/** The cluster's objects, by kind, then `namespace/name`. */
export class ObjectStore {
  private revision = 0;
  private readonly objects = new Map<KindSpec, Map<string, JsonObject>>();

  constructor(
    readonly hub: WatchHub,
    private readonly clock: Clock,
  ) {
    for (const kind of STORED_KINDS) this.objects.set(kind, new Map());
    for (const name of BUILT_IN_NAMESPACES) this.create(namespaceKind, undefined, { metadata: { name } });
  }

  /** The latest resourceVersion. */
  get resourceVersion(): number {
    return this.revision;
  }

  private bucket(kind: KindSpec): Map<string, JsonObject> {
    const bucket = this.objects.get(kind);
    if (!bucket) throw new ApiError('NotFound', `the server could not find the requested resource (${kind.plural})`);
    return bucket;
  }

  private stamp(type: 'ADDED' | 'MODIFIED' | 'DELETED', kind: KindSpec, object: JsonObject, previous?: JsonObject): JsonObject {
    this.revision += 1;
    metadataOf(object).resourceVersion = String(this.revision);
    const event = { type, kind, object: clone(object), resourceVersion: this.revision, ...(previous ? { previous } : {}) };
    this.hub.publish(event);
    return clone(object);
  }

  private check(kind: KindSpec, object: JsonObject, previous: JsonObject | undefined): void {
    kind.defaults?.(object);
    const metadata = metadataOf(object);
    const name = stringAt(metadata, 'name') ?? '';
    const errors = [
      ...required('metadata.name', name),
      ...(name === '' ? [] : kind === namespaceKind ? dnsLabelErrors('metadata.name', name) : dnsSubdomainErrors('metadata.name', name)),
      ...labelErrors('metadata.labels', metadata.labels),
      ...(kind.validate?.(object, previous) ?? []),
    ];
    if (errors.length > 0) throw invalid(kind.kind, name, errors, kind.group);
  }

  /** The stored object, or a 404. */
  get(kind: KindSpec, namespace: string | undefined, name: string): JsonObject {
    const found = this.bucket(kind).get(key(namespace, name));
    if (!found) throw notFound(kind, name);
    return clone(found);
  }

  /** The stored object, or undefined. */
  find(kind: KindSpec, namespace: string | undefined, name: string): JsonObject | undefined {
    const found = this.bucket(kind).get(key(namespace, name));
    return found && clone(found);
  }

  /**
   * The stored objects of `kind` themselves, not copies, for the controllers' reads: a stored
   * object is never changed once stored (a write stores a new one), and the caller must not change it.
   */
  scan(kind: KindSpec): Iterable<Readonly<JsonObject>> {
    return this.bucket(kind).values();
  }

  /** The objects of `kind` (in `namespace`, or all) that every selector matches, in name order. */
  list(kind: KindSpec, namespace: string | undefined, selectors: Selector[] = []): ListResult {
    const items: JsonObject[] = [];
    for (const object of this.bucket(kind).values()) {
      if (namespace !== undefined && stringAt(objectAt(object, 'metadata'), 'namespace') !== namespace) continue;
      if (selectors.every((matches) => matches(object))) items.push(clone(object));
    }
    return { items, resourceVersion: String(this.revision) };
  }

  /** Stores a new object: 409 AlreadyExists if the name is taken, 404 if its namespace is not there, 422 if invalid. */
  create(kind: KindSpec, namespace: string | undefined, body: JsonObject, dryRun = false): JsonObject {
    const object = clone(body);
    object.apiVersion = apiVersionOf(kind);
    object.kind = kind.kind;
    const metadata = metadataOf(object);
    if (kind.namespaced) {
      const ns = namespace ?? stringAt(metadata, 'namespace') ?? 'default';
      if (metadata.namespace !== undefined && metadata.namespace !== ns) {
        throw new ApiError('BadRequest', `the namespace of the provided object does not match the namespace sent on the request`);
      }
      if (!this.bucket(namespaceKind).has(key(undefined, ns))) throw notFound(namespaceKind, ns);
      metadata.namespace = ns;
    } else delete metadata.namespace;
    const generateName = stringAt(metadata, 'generateName');
    if (metadata.name === undefined && generateName) metadata.name = `${generateName}${randomUUID().replaceAll('-', '').slice(0, 5)}`;
    for (const field of ['uid', 'resourceVersion', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields']) delete metadata[field];
    this.check(kind, object, undefined);
    const name = String(metadata.name);
    const objectKey = key(stringAt(metadata, 'namespace'), name);
    if (this.bucket(kind).has(objectKey)) {
      throw new ApiError('AlreadyExists', `${resourceName(kind)} "${name}" already exists`, { name, group: kind.group, kind: kind.plural });
    }
    metadata.uid = randomUUID();
    metadata.creationTimestamp = timestamp(this.clock.now());
    metadata.generation = 1;
    if (dryRun) return object;
    this.bucket(kind).set(objectKey, object);
    return this.stamp('ADDED', kind, object);
  }

  /**
   * Replaces a stored object with `next` (PUT, or the result of a patch). A resourceVersion in
   * `next` is a precondition: a stale one is 409 Conflict. `subresource` 'status' changes only the
   * status; a write of the main resource keeps the stored status of kinds with a status subresource.
   */
  update(kind: KindSpec, namespace: string | undefined, name: string, next: JsonObject, options: { subresource?: string; dryRun?: boolean } = {}): JsonObject {
    const stored = this.bucket(kind).get(key(namespace, name));
    if (!stored) throw notFound(kind, name);
    const object = clone(next);
    const metadata = metadataOf(object);
    const storedMetadata = metadataOf(stored);
    if (metadata.name !== undefined && metadata.name !== name) throw new ApiError('BadRequest', `the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`);
    const precondition = metadata.resourceVersion;
    if (precondition !== undefined && precondition !== '' && precondition !== storedMetadata.resourceVersion) throw conflict(kind, name);
    if (metadata.uid !== undefined && metadata.uid !== storedMetadata.uid) {
      throw new ApiError('Conflict', `Precondition failed: UID in precondition: ${String(metadata.uid)}, UID in object meta: ${String(storedMetadata.uid)}`);
    }
    let result: JsonObject;
    if (options.subresource === 'status') {
      result = clone(stored);
      if (next.status !== undefined) result.status = clone(next.status);
    } else {
      result = object;
      if (kind.subresources?.includes('status') && kind !== namespaceKind) {
        if (stored.status === undefined) delete result.status;
        else result.status = clone(stored.status);
      }
      result.apiVersion = apiVersionOf(kind);
      result.kind = kind.kind;
      for (const field of ['uid', 'creationTimestamp', 'namespace', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation']) {
        if (storedMetadata[field] === undefined) delete metadata[field];
        else metadata[field] = storedMetadata[field]!;
      }
      metadata.name = name;
    }
    this.check(kind, result, stored);
    // Compared once defaulted, so that a write that only drops defaulted fields changes nothing.
    if (options.subresource !== 'status' && JSON.stringify(result.spec) !== JSON.stringify(stored.spec)) metadata.generation = Number(storedMetadata.generation ?? 1) + 1;
    if (dryRunOrSame(options.dryRun, result, stored)) return clone(options.dryRun ? result : stored);
    const resultMetadata = metadataOf(result);
    // An object being deleted goes once its last finalizer is removed.
    if (resultMetadata.deletionTimestamp !== undefined && !hasFinalizers(result) && !awaitsKubelet(kind, result)) return this.remove(kind, result, stored);
    this.bucket(kind).set(key(namespace, name), result);
    return this.stamp('MODIFIED', kind, result, clone(stored));
  }

  /**
   * Deletes an object. With finalizers, or for a pod on a node with a grace period, it only gets
   * its deletionTimestamp (MODIFIED) and goes later; otherwise it goes now (DELETED).
   */
  delete(kind: KindSpec, namespace: string | undefined, name: string, options: DeleteOptions = {}): JsonObject {
    const stored = this.bucket(kind).get(key(namespace, name));
    if (!stored) throw notFound(kind, name);
    const metadata = metadataOf(stored);
    const { uid, resourceVersion } = options.preconditions ?? {};
    if (uid !== undefined && uid !== metadata.uid) throw new ApiError('Conflict', `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${String(metadata.uid)}`);
    if (resourceVersion !== undefined && resourceVersion !== metadata.resourceVersion) throw conflict(kind, name);
    if (kind === namespaceKind) this.emptyNamespace(name);
    const grace = options.gracePeriodSeconds ?? Number(objectAt(stored, 'spec')?.terminationGracePeriodSeconds ?? 30);
    const graceful = kind === podKind && grace > 0 && isObject(stored.spec) && typeof stored.spec.nodeName === 'string' && !isFinished(stored);
    if (!hasFinalizers(stored) && !graceful) return this.remove(kind, stored, stored);
    if (metadata.deletionTimestamp !== undefined) return clone(stored);
    const next = clone(stored);
    const nextMetadata = metadataOf(next);
    nextMetadata.deletionTimestamp = timestamp(this.clock.now() + (graceful ? grace * 1000 : 0));
    nextMetadata.deletionGracePeriodSeconds = graceful ? grace : 0;
    this.bucket(kind).set(key(namespace, name), next);
    return this.stamp('MODIFIED', kind, next, clone(stored));
  }

  /**
   * Removes an object now, whatever its finalizers and grace period: what the pod garbage collector
   * does to a pod whose node is gone (nothing is left to run its finalizers' work).
   */
  forceDelete(kind: KindSpec, namespace: string | undefined, name: string): JsonObject {
    const stored = this.bucket(kind).get(key(namespace, name));
    if (!stored) throw notFound(kind, name);
    return this.remove(kind, stored, stored);
  }

  private remove(kind: KindSpec, object: JsonObject, stored: JsonObject): JsonObject {
    const metadata = metadataOf(object);
    this.bucket(kind).delete(key(stringAt(metadata, 'namespace'), String(metadata.name)));
    return this.stamp('DELETED', kind, object, clone(stored));
  }

  private emptyNamespace(namespace: string): void {
    for (const kind of STORED_KINDS) {
      if (!kind.namespaced) continue;
      for (const object of this.list(kind, namespace).items) this.remove(kind, object, object);
    }
  }
}

function hasFinalizers(object: JsonObject): boolean {
  const finalizers = objectAt(object, 'metadata')?.finalizers;
  return Array.isArray(finalizers) && finalizers.length > 0;
}

function isFinished(pod: JsonObject): boolean {
  const phase = objectAt(pod, 'status')?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}

/** A pod in graceful deletion stays until its kubelet deletes it with grace period 0. */
function awaitsKubelet(kind: KindSpec, object: JsonObject): boolean {
  return kind === podKind && Number(objectAt(object, 'metadata')?.deletionGracePeriodSeconds ?? 0) > 0;
}

function dryRunOrSame(dryRun: boolean | undefined, result: JsonObject, stored: JsonObject): boolean {
  if (dryRun) return true;
  const strip = (object: JsonObject) => JSON.stringify({ ...object, metadata: { ...metadataOf(clone(object)), resourceVersion: undefined } });
  return strip(result) === strip(stored);
}
