// The small core/v1 kinds: Namespace, ServiceAccount, ConfigMap, Secret, Service, PersistentVolumeClaim.
import { isObject, objectAt, type JsonObject } from '../json.js';
import type { FieldError } from '../status.js';
import { STORED_VERBS, type KindSpec } from './kind.js';
import { at, immutable, objectItems, oneOf, required } from './validation.js';

function core(kind: string, plural: string, namespaced: boolean, rest: Partial<KindSpec> = {}): KindSpec {
  return { kind, group: '', version: 'v1', plural, singular: kind.toLowerCase(), namespaced, verbs: STORED_VERBS, ...rest };
}

/** Namespaces; deleting one deletes every object in it (at once: there is no Terminating phase). */
export const namespaceKind = core('Namespace', 'namespaces', false, {
  shortNames: ['ns'],
  fieldSelectors: ['status.phase'],
  subresources: ['status'],
  defaults(namespace) {
    namespace.spec ??= { finalizers: ['kubernetes'] };
    namespace.status = { phase: 'Active' };
  },
});

/** ServiceAccounts. */
export const serviceAccountKind = core('ServiceAccount', 'serviceaccounts', true, { shortNames: ['sa'] });

/** ConfigMaps: string `data`, base64 `binaryData`. */
export const configMapKind = core('ConfigMap', 'configmaps', true, {
  shortNames: ['cm'],
  validate(configMap) {
    const data = configMap.data;
    if (data === undefined) return [];
    if (!isObject(data)) return [{ field: 'data', message: 'Invalid value: must be a map of strings' }];
    return Object.entries(data).flatMap(([key, value]) => (typeof value === 'string' ? [] : [{ field: `data[${key}]`, message: 'Invalid value: must be a string' }]));
  },
});

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Secrets: `stringData` is folded into base64 `data`, as the real server does. */
export const secretKind = core('Secret', 'secrets', true, {
  fieldSelectors: ['type'],
  defaults(secret) {
    secret.type ??= 'Opaque';
    const stringData = objectAt(secret, 'stringData');
    if (stringData) {
      const data = objectAt(secret, 'data') ?? {};
      for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(String(value)).toString('base64');
      secret.data = data;
      delete secret.stringData;
    }
  },
  validate(secret, previous) {
    const errors: FieldError[] = [];
    for (const [key, value] of Object.entries(objectAt(secret, 'data') ?? {})) {
      if (typeof value !== 'string' || value.length % 4 !== 0 || !BASE64.test(value)) errors.push({ field: `data[${key}]`, message: 'Invalid value: must be base64' });
    }
    if (previous) errors.push(...immutable('type', secret.type, previous.type));
    return errors;
  },
});

let nextClusterIp = 1;

/** Services: ports checked and defaulted; a ClusterIP is assigned from 10.96.0.0/16 (nothing routes to it). */
export const serviceKind = core('Service', 'services', true, {
  shortNames: ['svc'],
  subresources: ['status'],
  defaults(service) {
    const spec = objectAt(service, 'spec') ?? {};
    spec.type ??= 'ClusterIP';
    spec.sessionAffinity ??= 'None';
    if (spec.clusterIP === undefined) {
      const n = nextClusterIp++;
      spec.clusterIP = `10.96.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
      spec.clusterIPs = [spec.clusterIP];
    }
    for (const [, port] of objectItems(spec.ports)) {
      port.protocol ??= 'TCP';
      port.targetPort ??= port.port ?? null;
    }
    service.spec = spec;
    service.status ??= { loadBalancer: {} };
  },
  validate(service, previous) {
    const spec = objectAt(service, 'spec');
    const errors: FieldError[] = [...oneOf('spec.type', spec?.type, ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'])];
    if (spec?.type !== 'ExternalName' && spec?.clusterIP !== 'None') errors.push(...required('spec.ports', spec?.ports));
    for (const [index, port] of objectItems(spec?.ports)) {
      if (typeof port.port !== 'number' || port.port < 1 || port.port > 65535) {
        errors.push({ field: `spec.ports[${index}].port`, message: 'Invalid value: must be between 1 and 65535, inclusive' });
      }
      errors.push(...oneOf(`spec.ports[${index}].protocol`, port.protocol, ['TCP', 'UDP', 'SCTP']));
    }
    if (previous && at(previous, 'spec.clusterIP') !== undefined) errors.push(...immutable('spec.clusterIP', spec?.clusterIP, at(previous, 'spec.clusterIP')));
    return errors;
  },
});

/** PersistentVolumeClaims: bound at once to a volume that does not exist (nothing is mounted). */
export const persistentVolumeClaimKind = core('PersistentVolumeClaim', 'persistentvolumeclaims', true, {
  shortNames: ['pvc'],
  subresources: ['status'],
  defaults(claim) {
    const spec = objectAt(claim, 'spec');
    if (spec) spec.volumeMode ??= 'Filesystem';
    const status: JsonObject = { phase: 'Bound' };
    const capacity = at(claim, 'spec.resources.requests.storage');
    if (typeof capacity === 'string') status.capacity = { storage: capacity };
    if (Array.isArray(spec?.accessModes)) status.accessModes = spec.accessModes;
    claim.status = status;
  },
  validate(claim, previous) {
    const spec = objectAt(claim, 'spec');
    const errors: FieldError[] = [...required('spec.accessModes', spec?.accessModes), ...required('spec.resources.requests.storage', at(claim, 'spec.resources.requests.storage'))];
    for (const mode of Array.isArray(spec?.accessModes) ? spec.accessModes : []) {
      errors.push(...oneOf('spec.accessModes', mode, ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOncePod']));
    }
    if (previous) errors.push(...immutable('spec.accessModes', spec?.accessModes, at(previous, 'spec.accessModes')));
    return errors;
  },
});
