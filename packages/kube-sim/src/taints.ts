// Taints and tolerations: which taint a pod tolerates, and for how long.
import { isObject, objectAt, type Json, type JsonObject } from './json.js';
import { objectItems } from './kinds/validation.js';

/** A node taint. */
export interface Taint {
  key: string;
  value: string;
  effect: string;
}

/** The taints of a node. */
export function taintsOf(node: JsonObject): Taint[] {
  return objectItems(objectAt(node, 'spec')?.taints).map(([, t]) => ({ key: String(t.key ?? ''), value: String(t.value ?? ''), effect: String(t.effect ?? '') }));
}

/** The toleration of `tolerations` that tolerates `taint`, or undefined. */
export function tolerationFor(tolerations: Json | undefined, taint: Taint): JsonObject | undefined {
  return objectItems(tolerations)
    .map(([, t]) => t)
    .find((t) => {
      if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect) return false;
      if (t.operator === 'Exists') return t.key === undefined || t.key === '' || t.key === taint.key;
      return t.key === taint.key && String(t.value ?? '') === taint.value;
    });
}

/** Whether a pod with `tolerations` may be placed on a node with `taints` (NoSchedule and NoExecute count). */
export function toleratesForScheduling(tolerations: Json | undefined, taints: Taint[]): boolean {
  return taints.every((taint) => taint.effect === 'PreferNoSchedule' || tolerationFor(tolerations, taint) !== undefined);
}

/**
 * How long a pod with `tolerations` may stay on a node with `taints`: 0 when a NoExecute taint is
 * not tolerated, the least `tolerationSeconds` (in ms) of the tolerated ones, or Infinity.
 */
export function noExecuteGraceMs(tolerations: Json | undefined, taints: Taint[]): number {
  let grace = Infinity;
  for (const taint of taints) {
    if (taint.effect !== 'NoExecute') continue;
    const toleration = tolerationFor(tolerations, taint);
    if (!toleration) return 0;
    if (typeof toleration.tolerationSeconds === 'number') grace = Math.min(grace, Math.max(0, toleration.tolerationSeconds) * 1000);
  }
  return grace;
}

/** The tolerations of a pod spec. */
export function tolerationsOf(pod: JsonObject): Json | undefined {
  const spec = pod.spec;
  return isObject(spec) ? spec.tolerations : undefined;
}
