// Leases (coordination.k8s.io/v1): the simulated kubelets renew one per node in kube-node-lease.
import { objectAt } from '../json.js';
import type { FieldError } from '../status.js';
import { STORED_VERBS, type KindSpec } from './kind.js';

/** Leases. */
export const leaseKind: KindSpec = {
  kind: 'Lease',
  group: 'coordination.k8s.io',
  version: 'v1',
  plural: 'leases',
  singular: 'lease',
  namespaced: true,
  verbs: STORED_VERBS,
  validate(lease) {
    const spec = objectAt(lease, 'spec');
    const errors: FieldError[] = [];
    for (const field of ['leaseDurationSeconds', 'leaseTransitions']) {
      const value = spec?.[field];
      if (value !== undefined && (typeof value !== 'number' || value < 0)) errors.push({ field: `spec.${field}`, message: 'Invalid value: must be a non-negative integer' });
    }
    return errors;
  },
};
