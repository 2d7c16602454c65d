// Whether a pod spec may run on a node: its nodeSelector and its required node affinity.
import { isObject, objectAt, stringMapAt, type Json, type JsonObject } from './json.js';
import { objectItems } from './kinds/validation.js';

function requirementHolds(requirement: JsonObject, value: string | undefined): boolean {
  const values = Array.isArray(requirement.values) ? requirement.values.map(String) : [];
  switch (requirement.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const [bound] = values;
      if (value === undefined || bound === undefined) return false;
      return requirement.operator === 'Gt' ? Number(value) > Number(bound) : Number(value) < Number(bound);
    }
    default:
      return false;
  }
}

function termHolds(term: JsonObject, node: JsonObject): boolean {
  const labels = stringMapAt(objectAt(node, 'metadata'), 'labels');
  const name = String(objectAt(node, 'metadata')?.name ?? '');
  return (
    objectItems(term.matchExpressions).every(([, r]) => requirementHolds(r, labels[String(r.key)])) &&
    objectItems(term.matchFields).every(([, r]) => r.key === 'metadata.name' && requirementHolds(r, name))
  );
}

/** Whether `spec` (a pod spec) selects `node` by nodeSelector and required node affinity. */
export function podSpecSelectsNode(spec: Json | undefined, node: JsonObject): boolean {
  if (!isObject(spec)) return true;
  const labels = stringMapAt(objectAt(node, 'metadata'), 'labels');
  for (const [key, value] of Object.entries(stringMapAt(spec, 'nodeSelector'))) if (labels[key] !== value) return false;
  const required = objectAt(objectAt(objectAt(spec, 'affinity'), 'nodeAffinity'), 'requiredDuringSchedulingIgnoredDuringExecution');
  const terms = objectItems(required?.nodeSelectorTerms);
  return terms.length === 0 || terms.some(([, term]) => termHolds(term, node));
}
