// What the API server knows of one kind: where it is served, its verbs, and its defaults and validation.
import type { JsonObject } from '../json.js';
import type { FieldError } from '../status.js';

/** One kind the server stores (or, for TokenReview, only answers). */
export interface KindSpec {
  kind: string;
  /** API group; '' for the core group served under /api/v1. */
  group: string;
  version: string;
  /** The resource name in URLs, e.g. `daemonsets`. */
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  verbs: readonly string[];
  /** Field selector fields besides metadata.name and metadata.namespace. */
  fieldSelectors?: readonly string[];
  /** Subresources served under the resource: `status` (get/update/patch) and `eviction` (create). */
  subresources?: readonly string[];
  /** Fills defaulted fields of a new or updated object, in place. */
  defaults?(object: JsonObject): void;
  /** The field errors of an object about to be stored; `previous` is the stored one on update. */
  validate?(object: JsonObject, previous: JsonObject | undefined): FieldError[];
}

/** The verbs of a stored kind, as discovery lists them. */
export const STORED_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;

/** `apiVersion` of a kind: `v1` for the core group, `GROUP/VERSION` otherwise. */
export function apiVersionOf(spec: Pick<KindSpec, 'group' | 'version'>): string {
  return spec.group === '' ? spec.version : `${spec.group}/${spec.version}`;
}
