// Pods: the pod spec's defaults and checks (shared with the workload kinds' templates).
import { isObject, objectAt, type Json, type JsonObject } from '../json.js';
import type { FieldError } from '../status.js';
import { STORED_VERBS, type KindSpec } from './kind.js';
import { at, dnsLabelErrors, immutable, objectItems, oneOf, required } from './validation.js';

const EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Fills the pod spec defaults the real API server sets (restart policy, grace period, pull policy, ...). */
export function defaultPodSpec(spec: JsonObject): void {
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  if (spec.serviceAccountName !== undefined) spec.serviceAccount ??= spec.serviceAccountName;
  for (const list of ['containers', 'initContainers']) {
    for (const [, container] of objectItems(spec[list])) {
      const image = typeof container.image === 'string' ? container.image : '';
      container.imagePullPolicy ??= image.endsWith(':latest') || !image.includes(':') ? 'Always' : 'IfNotPresent';
      container.terminationMessagePath ??= '/dev/termination-log';
      container.terminationMessagePolicy ??= 'File';
      container.resources ??= {};
      for (const [, port] of objectItems(container.ports)) port.protocol ??= 'TCP';
    }
  }
}

/** The field errors of a pod spec at `path` (`spec`, or `spec.template.spec` for a workload). */
export function podSpecErrors(path: string, spec: Json | undefined): FieldError[] {
  if (!isObject(spec)) return required(path, spec);
  const errors: FieldError[] = [...required(`${path}.containers`, spec.containers)];
  const names = new Set<string>();
  for (const list of ['containers', 'initContainers']) {
    for (const [index, container] of objectItems(spec[list])) {
      const field = `${path}.${list}[${index}]`;
      const name = container.name;
      if (typeof name !== 'string' || name === '') errors.push({ field: `${field}.name`, message: 'Required value' });
      else {
        errors.push(...dnsLabelErrors(`${field}.name`, name));
        if (names.has(name)) errors.push({ field: `${field}.name`, message: `Duplicate value: ${JSON.stringify(name)}` });
        names.add(name);
      }
      errors.push(...required(`${field}.image`, container.image));
      for (const [i, port] of objectItems(container.ports)) {
        const number = port.containerPort;
        if (typeof number !== 'number' || number < 1 || number > 65535) {
          errors.push({ field: `${field}.ports[${i}].containerPort`, message: 'Invalid value: must be between 1 and 65535, inclusive' });
        }
      }
    }
  }
  errors.push(...oneOf(`${path}.restartPolicy`, spec.restartPolicy, ['Always', 'OnFailure', 'Never']));
  for (const [index, toleration] of objectItems(spec.tolerations)) {
    const field = `${path}.tolerations[${index}]`;
    errors.push(...oneOf(`${field}.operator`, toleration.operator, ['Equal', 'Exists']));
    if (toleration.effect !== undefined && toleration.effect !== '') errors.push(...oneOf(`${field}.effect`, toleration.effect, EFFECTS));
    if (toleration.operator === 'Exists' && toleration.value !== undefined && toleration.value !== '') {
      errors.push({ field: `${field}.operator`, message: 'Invalid value: value must be empty when `operator` is \'Exists\'' });
    }
    if (toleration.tolerationSeconds !== undefined && toleration.effect !== 'NoExecute') {
      errors.push({ field: `${field}.effect`, message: "Invalid value: effect must be 'NoExecute' when `tolerationSeconds` is set" });
    }
  }
  return errors;
}

/** The effects a node taint may have. */
export const TAINT_EFFECTS: readonly string[] = EFFECTS;

/** Pods (core/v1), with the status and eviction subresources. */
export const podKind: KindSpec = {
  kind: 'Pod',
  group: '',
  version: 'v1',
  plural: 'pods',
  singular: 'pod',
  namespaced: true,
  shortNames: ['po'],
  verbs: STORED_VERBS,
  fieldSelectors: ['spec.nodeName', 'status.phase', 'spec.serviceAccountName', 'spec.restartPolicy', 'status.podIP'],
  subresources: ['status', 'eviction'],
  defaults(pod) {
    const spec = objectAt(pod, 'spec');
    if (spec) defaultPodSpec(spec);
    const status = objectAt(pod, 'status') ?? {};
    status.phase ??= 'Pending';
    status.qosClass ??= 'BestEffort';
    pod.status = status;
  },
  validate(pod, previous) {
    const errors = podSpecErrors('spec', pod.spec);
    if (previous) {
      // Pod specs are immutable but for images, added tolerations and the binding to a node.
      const before = at(previous, 'spec.nodeName');
      if (before !== undefined) errors.push(...immutable('spec.nodeName', at(pod, 'spec.nodeName'), before));
      const names = (spec: Json | undefined) => objectItems(isObject(spec) ? spec.containers : undefined).map(([, c]) => c.name ?? null);
      errors.push(...immutable('spec.containers', names(pod.spec), names(previous.spec)));
    }
    return errors;
  },
};
