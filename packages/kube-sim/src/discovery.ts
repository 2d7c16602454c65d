// The discovery documents kubectl reads before anything else: /version, /api, /apis, and the
// resource list of each group version.
import { ALL_KINDS, type KindSpec } from './kinds/index.js';
import type { JsonObject } from './json.js';

/** The Kubernetes version the simulator reports. */
export const SERVER_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-lzy-kube-sim' };

/** The policy group serves only the pods/eviction subresource (listed under /api/v1). */
const POLICY = { group: 'policy', version: 'v1' };

/** GET /version. */
export function versionDocument(): JsonObject {
  return { ...SERVER_VERSION, gitCommit: '', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.23', compiler: 'gc', platform: `${process.platform}/${process.arch}` };
}

/** GET /api. */
export function coreVersionsDocument(serverAddress: string): JsonObject {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupVersions(): Array<{ group: string; version: string }> {
  const seen = new Map<string, { group: string; version: string }>();
  for (const kind of [...ALL_KINDS, POLICY]) if (kind.group !== '') seen.set(`${kind.group}/${kind.version}`, { group: kind.group, version: kind.version });
  return [...seen.values()];
}

/** GET /apis. */
export function groupListDocument(): JsonObject {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupVersions().map(({ group, version }) => {
      const groupVersion = { groupVersion: `${group}/${version}`, version };
      return { name: group, versions: [groupVersion], preferredVersion: groupVersion };
    }),
  };
}

/** Whether `group`/`version` is served. */
export function servesGroupVersion(group: string, version: string): boolean {
  return group === '' ? version === 'v1' : groupVersions().some((gv) => gv.group === group && gv.version === version);
}

function resourceEntries(kind: KindSpec): JsonObject[] {
  const main: JsonObject = { name: kind.plural, singularName: kind.singular, namespaced: kind.namespaced, kind: kind.kind, verbs: [...kind.verbs] };
  if (kind.shortNames) main.shortNames = kind.shortNames;
  const subresources = (kind.subresources ?? []).map((sub): JsonObject =>
    sub === 'eviction'
      ? { name: `${kind.plural}/eviction`, singularName: '', namespaced: kind.namespaced, group: POLICY.group, version: POLICY.version, kind: 'Eviction', verbs: ['create'] }
      : { name: `${kind.plural}/${sub}`, singularName: '', namespaced: kind.namespaced, kind: kind.kind, verbs: ['get', 'patch', 'update'] },
  );
  return [main, ...subresources];
}

/** GET /api/v1 or /apis/GROUP/VERSION. */
export function resourceListDocument(group: string, version: string): JsonObject {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: ALL_KINDS.filter((k) => k.group === group && k.version === version).flatMap(resourceEntries),
  };
}
