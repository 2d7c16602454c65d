// The REST paths of the API: which group, version, namespace, resource, name and subresource a URL names.
import { kindAt, type KindSpec } from './kinds/index.js';
import { ApiError } from './status.js';

/** A URL under /api/v1 or /apis/GROUP/VERSION that names a resource. */
export interface ResourcePath {
  kind: KindSpec;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

/** A URL the API serves: discovery, or a resource path. */
export type Route =
  | { type: 'version' }
  | { type: 'core-versions' }
  | { type: 'groups' }
  | { type: 'openapi-v2' }
  | { type: 'openapi-v3' }
  | { type: 'resources'; group: string; version: string }
  | { type: 'resource'; path: ResourcePath };

function unknownPath(): ApiError {
  return new ApiError('NotFound', 'the server could not find the requested resource');
}

/** The route of `pathname`; a 404 for anything else. */
export function route(pathname: string): Route {
  const parts = pathname.split('/').filter((p) => p !== '').map(decodeURIComponent);
  if (parts.length === 1 && parts[0] === 'version') return { type: 'version' };
  if (parts.length === 1 && parts[0] === 'api') return { type: 'core-versions' };
  if (parts.length === 1 && parts[0] === 'apis') return { type: 'groups' };
  if (parts.length === 2 && parts[0] === 'openapi' && parts[1] === 'v2') return { type: 'openapi-v2' };
  if (parts.length === 2 && parts[0] === 'openapi' && parts[1] === 'v3') return { type: 'openapi-v3' };
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts[1] === 'v1') [group, version, rest] = ['', 'v1', parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 3) [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else throw unknownPath();
  if (rest.length === 0) return { type: 'resources', group, version };
  let namespace: string | undefined;
  // namespaces/NS/PLURAL/... names a namespaced resource; namespaces[/NAME[/status]] the Namespace itself.
  if (rest[0] === 'namespaces' && rest.length >= 3 && kindAt(group, version, rest[2]!)?.namespaced) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest as [string, string | undefined, string | undefined, ...string[]];
  const kind = kindAt(group, version, plural);
  if (!kind || extra.length > 0) throw unknownPath();
  if (namespace === undefined && kind.namespaced && name !== undefined) throw unknownPath();
  if (subresource !== undefined && !kind.subresources?.includes(subresource)) throw unknownPath();
  return { type: 'resource', path: { kind, namespace, name, subresource } };
}
