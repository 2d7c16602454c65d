// Every kind the API server serves, and the lookups the routes make.
import { configMapKind, namespaceKind, persistentVolumeClaimKind, secretKind, serviceAccountKind, serviceKind } from './core.js';
import type { KindSpec } from './kind.js';
import { leaseKind } from './lease.js';
import { networkPolicyKind } from './network-policy.js';
import { nodeKind } from './node.js';
import { podKind } from './pod.js';
import { clusterRoleBindingKind, clusterRoleKind, roleBindingKind, roleKind } from './rbac.js';
import { daemonSetKind, deploymentKind, statefulSetKind } from './workloads.js';

export { apiVersionOf, type KindSpec } from './kind.js';

/** TokenReviews (authentication.k8s.io/v1): create only, answered from the simulator's token issuer. */
export const tokenReviewKind: KindSpec = {
  kind: 'TokenReview',
  group: 'authentication.k8s.io',
  version: 'v1',
  plural: 'tokenreviews',
  singular: 'tokenreview',
  namespaced: false,
  verbs: ['create'],
};

/** The stored kinds. */
export const STORED_KINDS: readonly KindSpec[] = [
  namespaceKind,
  nodeKind,
  podKind,
  serviceAccountKind,
  serviceKind,
  configMapKind,
  secretKind,
  persistentVolumeClaimKind,
  daemonSetKind,
  deploymentKind,
  statefulSetKind,
  networkPolicyKind,
  roleKind,
  clusterRoleKind,
  roleBindingKind,
  clusterRoleBindingKind,
  leaseKind,
];

/** Every kind, as discovery lists them. */
export const ALL_KINDS: readonly KindSpec[] = [...STORED_KINDS, tokenReviewKind];

/** The kind served at `group`/`version`/`plural`, or undefined. */
export function kindAt(group: string, version: string, plural: string): KindSpec | undefined {
  return ALL_KINDS.find((k) => k.group === group && k.version === version && k.plural === plural);
}

export { namespaceKind, nodeKind, podKind, daemonSetKind, leaseKind, serviceAccountKind, secretKind, configMapKind };
