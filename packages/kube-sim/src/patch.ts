// The three patch types of PATCH requests: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
// Kubernetes' strategic merge patch, with the list merge keys of the kinds this server stores.
import { ApiError } from './status.js';
import { clone, isObject, type Json, type JsonObject } from './json.js';

/** The Content-Types a PATCH may carry, each naming its patch type. */
export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** RFC 7386: objects merge key by key, null deletes a key, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

function badPatch(message: string): ApiError {
  return new ApiError('BadRequest', message);
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badPatch(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function parentOf(document: Json, parts: string[], path: string): { parent: JsonObject | Json[]; key: string } {
  let current: Json = document;
  for (const part of parts.slice(0, -1)) {
    const next: Json | undefined = Array.isArray(current) ? current[Number(part)] : isObject(current) ? current[part] : undefined;
    if (next === undefined) throw new ApiError('Invalid', `jsonpatch: the path ${JSON.stringify(path)} does not exist`);
    current = next;
  }
  if (!Array.isArray(current) && !isObject(current)) throw new ApiError('Invalid', `jsonpatch: the path ${JSON.stringify(path)} does not exist`);
  return { parent: current, key: parts[parts.length - 1]! };
}

function arrayIndex(array: Json[], key: string, path: string, forInsert: boolean): number {
  if (forInsert && key === '-') return array.length;
  const index = Number(key);
  const max = forInsert ? array.length : array.length - 1;
  if (!/^\d+$/.test(key) || index > max) throw new ApiError('Invalid', `jsonpatch: index out of range in ${JSON.stringify(path)}`);
  return index;
}

function get(document: Json, path: string): Json {
  let current: Json | undefined = document;
  for (const part of pointer(path)) current = Array.isArray(current) ? current[Number(part)] : isObject(current) ? current[part] : undefined;
  if (current === undefined) throw new ApiError('Invalid', `jsonpatch: the path ${JSON.stringify(path)} does not exist`);
  return current;
}

function remove(document: Json, path: string): Json {
  const { parent, key } = parentOf(document, pointer(path), path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, path, false), 1)[0]!;
  if (!Object.hasOwn(parent, key)) throw new ApiError('Invalid', `jsonpatch: the path ${JSON.stringify(path)} does not exist`);
  const value = parent[key]!;
  delete parent[key];
  return value;
}

function add(document: Json, path: string, value: Json): Json {
  const parts = pointer(path);
  if (parts.length === 0) return value;
  const { parent, key } = parentOf(document, parts, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, value);
  else parent[key] = value;
  return document;
}

/** RFC 6902: applies each operation in order; a failed `test` or a missing path fails the whole patch. */
export function jsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw badPatch('a JSON patch must be an array of operations');
  let document = clone(target);
  for (const operation of operations) {
    if (!isObject(operation) || typeof operation.op !== 'string' || typeof operation.path !== 'string') {
      throw badPatch(`invalid JSON patch operation ${JSON.stringify(operation)}`);
    }
    const { op, path } = operation;
    const from = typeof operation.from === 'string' ? operation.from : undefined;
    const value = operation.value === undefined ? undefined : clone(operation.value);
    switch (op) {
      case 'add':
        if (value === undefined) throw badPatch(`jsonpatch add operation needs a value`);
        document = add(document, path, value);
        break;
      case 'remove':
        remove(document, path);
        break;
      case 'replace':
        if (value === undefined) throw badPatch(`jsonpatch replace operation needs a value`);
        if (pointer(path).length === 0) document = value;
        else {
          remove(document, path);
          document = add(document, path, value);
        }
        break;
      case 'move':
      case 'copy': {
        if (from === undefined) throw badPatch(`jsonpatch ${op} operation needs a from`);
        const moved = op === 'move' ? remove(document, from) : clone(get(document, from));
        document = add(document, path, moved);
        break;
      }
      case 'test':
        if (JSON.stringify(get(document, path)) !== JSON.stringify(operation.value)) {
          throw new ApiError('Invalid', `jsonpatch: testing value ${path} failed`);
        }
        break;
      default:
        throw badPatch(`unknown JSON patch operation ${JSON.stringify(op)}`);
    }
  }
  return document;
}

/**
 * The merge key of a list field in a strategic merge patch, as the Kubernetes types declare it;
 * undefined for lists that a patch replaces whole (taints, tolerations, args, rules, ...).
 */
function mergeKeyOf(field: string, sample: Json[]): string | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
    case 'resourceClaims':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'conditions':
    case 'addresses':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'hostAliases':
      return 'ip';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ports':
      // Container ports merge by containerPort, Service ports by port.
      return sample.some((item) => isObject(item) && 'containerPort' in item) ? 'containerPort' : 'port';
    default:
      return undefined;
  }
}

/** Primitive lists whose strategic patch strategy is merge (a union of values), not replace. */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

const DIRECTIVE = '$patch';

function strategicList(field: string, target: Json[], patch: Json[]): Json[] {
  const replace = patch.find((item) => isObject(item) && item[DIRECTIVE] === 'replace');
  if (replace !== undefined) return patch.filter((item) => item !== replace).map((item) => strip(item));
  const key = mergeKeyOf(field, [...patch, ...target]);
  if (key === undefined) {
    if (MERGED_PRIMITIVE_LISTS.has(field)) return [...target, ...patch.filter((item) => !target.some((t) => JSON.stringify(t) === JSON.stringify(item)))];
    return patch.map((item) => strip(item));
  }
  const result = target.map((item) => clone(item));
  for (const item of patch) {
    if (!isObject(item)) throw badPatch(`list ${field} merges by ${key}: its items must be objects`);
    const index = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item[DIRECTIVE] === 'delete') {
      if (index >= 0) result.splice(index, 1);
    } else if (index >= 0) result[index] = strategicMergePatch(result[index]!, item);
    else result.push(strip(item));
  }
  return result;
}

/** A patch value with its directives removed, as it is stored when nothing was there to merge with. */
function strip(value: Json): Json {
  if (Array.isArray(value)) return value.map(strip);
  if (!isObject(value)) return value;
  return strategicMergePatch({}, value);
}

/**
 * Kubernetes' strategic merge patch: objects merge as in a merge patch; lists with a merge key
 * merge item by item (`$patch: delete` removes one), other lists are replaced; `$patch: replace`,
 * `$patch: delete`, `$retainKeys`, `$deleteFromPrimitiveList/FIELD` and `$setElementOrder/FIELD`
 * (which only orders, and is dropped) are honoured as `kubectl apply` sends them.
 */
export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch[DIRECTIVE] === 'replace') return strip(Object.fromEntries(Object.entries(patch).filter(([k]) => k !== DIRECTIVE)));
  const result: JsonObject = isObject(target) ? clone(target) : {};
  const retainKeys = patch.$retainKeys;
  for (const [key, value] of Object.entries(patch)) {
    if (key === DIRECTIVE || key === '$retainKeys' || key.startsWith('$setElementOrder/')) continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const existing = result[field];
      const removed = Array.isArray(value) ? value.map((v) => JSON.stringify(v)) : [];
      if (Array.isArray(existing)) result[field] = existing.filter((item) => !removed.includes(JSON.stringify(item)));
      continue;
    }
    if (value === null || (isObject(value) && value[DIRECTIVE] === 'delete')) delete result[key];
    else if (Array.isArray(value)) result[key] = strategicList(key, Array.isArray(result[key]) ? (result[key] as Json[]) : [], value);
    else result[key] = strategicMergePatch(result[key] ?? null, value);
  }
  if (Array.isArray(retainKeys)) {
    for (const key of Object.keys(result)) if (!retainKeys.includes(key) && !(key in patch)) delete result[key];
  }
  return result;
}

/** Applies a PATCH body of the given Content-Type to `target`; 415 for an unsupported type. */
export function applyPatch(contentType: string, target: JsonObject, body: Json): Json {
  const type = contentType.split(';')[0]!.trim();
  switch (type) {
    case PATCH_TYPES.json:
      return jsonPatch(target, body);
    case PATCH_TYPES.merge:
      return mergePatch(target, body);
    case PATCH_TYPES.strategic:
      return strategicMergePatch(target, body);
    default:
      throw new ApiError(
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.json}, ${PATCH_TYPES.merge}, ${PATCH_TYPES.strategic}`,
      );
  }
}
