// Nodes: cluster-scoped, with taints checked and the status subresource.
import { objectAt } from '../json.js';
import type { FieldError } from '../status.js';
import { STORED_VERBS, type KindSpec } from './kind.js';
import { TAINT_EFFECTS } from './pod.js';
import { objectItems, oneOf, qualifiedNameErrors, required } from './validation.js';

/** Nodes (core/v1). */
export const nodeKind: KindSpec = {
  kind: 'Node',
  group: '',
  version: 'v1',
  plural: 'nodes',
  singular: 'node',
  namespaced: false,
  shortNames: ['no'],
  verbs: STORED_VERBS,
  fieldSelectors: ['spec.unschedulable'],
  subresources: ['status'],
  validate(node) {
    const errors: FieldError[] = [];
    const seen = new Set<string>();
    for (const [index, taint] of objectItems(objectAt(node, 'spec')?.taints)) {
      const field = `spec.taints[${index}]`;
      errors.push(...required(`${field}.key`, taint.key), ...required(`${field}.effect`, taint.effect));
      if (typeof taint.key === 'string' && taint.key !== '') errors.push(...qualifiedNameErrors(`${field}.key`, taint.key));
      errors.push(...oneOf(`${field}.effect`, taint.effect, TAINT_EFFECTS));
      const id = `${String(taint.key)}:${String(taint.effect)}`;
      if (seen.has(id)) errors.push({ field, message: `Duplicate value: taints must be unique by key and effect pair` });
      seen.add(id);
    }
    return errors;
  },
};
