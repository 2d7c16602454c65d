// Checks Kubernetes objects offline against the API's own OpenAPI schemas (from the
// kubernetes-models packages), as strictly as an API server does under kubectl's default
// `--validate=strict`: wrong types, missing required fields and unknown fields are all refused.
import * as models from 'kubernetes-models';

/** A kind's model class: `apiVersion`, `kind`, and a `validate` that runs the kind's schema on `this`. */
interface KindModel {
  readonly apiVersion: string;
  readonly kind: string;
  readonly prototype: { validate(this: unknown): void };
}

function isKindModel(value: unknown): value is KindModel {
  if (typeof value !== 'function') return false;
  const { apiVersion, kind } = value as { apiVersion?: unknown; kind?: unknown };
  return typeof apiVersion === 'string' && typeof kind === 'string';
}

/** Every kind the schemas know, by `apiVersion/kind` (the package nests them by group, then version). */
const kinds = new Map<string, KindModel>();
function collectKinds(namespace: object, depth: number): void {
  for (const value of Object.values(namespace)) {
    if (isKindModel(value)) kinds.set(`${value.apiVersion}/${value.kind}`, value);
    else if (typeof value === 'object' && value !== null && depth < 2) collectKinds(value, depth + 1);
  }
}
collectKinds(models, 0);

/**
 * What is wrong with `object` as an object of the Kubernetes API: an unknown apiVersion and kind,
 * a value its schema refuses, or a field its schema does not have. Empty when it is valid.
 */
export function kubeSchemaProblems(object: unknown): string[] {
  if (typeof object !== 'object' || object === null || Array.isArray(object)) return ['not an object'];
  const { apiVersion, kind } = object as { apiVersion?: unknown; kind?: unknown };
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return ['no apiVersion and kind'];
  const model = kinds.get(`${apiVersion}/${kind}`);
  if (!model) return [`${apiVersion} ${kind} is not a kind of the Kubernetes API`];
  // The schema's compiled validator reads each field that its schema knows; a field it never
  // reads is one the schema does not have, which an API server refuses as an unknown field.
  const read = new Set<string>();
  try {
    model.prototype.validate.call(recordReads(object, '', read));
  } catch (error) {
    return [(error as Error).message];
  }
  return fieldPaths(object, '').filter((path) => !read.has(path)).map((path) => `unknown field ${path}`);
}

/** `value` behind a proxy that adds to `read` the path of every own field read from it or below it. */
function recordReads(value: unknown, path: string, read: Set<string>): unknown {
  if (typeof value !== 'object' || value === null) return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      const field: unknown = Reflect.get(target, key, receiver);
      if (typeof key !== 'string' || !Object.hasOwn(target, key)) return field;
      read.add(`${path}/${key}`);
      return recordReads(field, `${path}/${key}`, read);
    },
  });
}

/** The path of every field in `value`, array items included (`/spec/containers/0/name`). */
function fieldPaths(value: unknown, path: string): string[] {
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, field]) => [`${path}/${key}`, ...fieldPaths(field, `${path}/${key}`)]);
}
