// The workload kinds of apps/v1 (DaemonSet, Deployment, StatefulSet): a selector that matches a pod template.
import { objectAt, stringMapAt, type JsonObject } from '../json.js';
import { matchesLabelSelectorObject } from '../selectors.js';
import type { FieldError } from '../status.js';
import { STORED_VERBS, type KindSpec } from './kind.js';
import { defaultPodSpec, podSpecErrors } from './pod.js';
import { at, immutable, labelErrors, required } from './validation.js';

function templateErrors(workload: JsonObject, previous: JsonObject | undefined): FieldError[] {
  const spec = objectAt(workload, 'spec');
  const selector = objectAt(spec, 'selector');
  const template = objectAt(spec, 'template');
  const errors: FieldError[] = [...required('spec.selector', spec?.selector), ...required('spec.template', spec?.template)];
  const labels = stringMapAt(objectAt(template, 'metadata'), 'labels');
  errors.push(...labelErrors('spec.template.metadata.labels', at(workload, 'spec.template.metadata.labels')));
  if (selector && Object.keys(selector).length === 0) errors.push({ field: 'spec.selector', message: 'Invalid value: empty selector is invalid for deployment' });
  else if (selector && !matchesLabelSelectorObject(selector, labels)) {
    errors.push({ field: 'spec.template.metadata.labels', message: 'Invalid value: `selector` does not match template `labels`' });
  }
  if (template) errors.push(...podSpecErrors('spec.template.spec', template.spec));
  if (previous) errors.push(...immutable('spec.selector', spec?.selector, at(previous, 'spec.selector')));
  return errors;
}

function defaultTemplate(workload: JsonObject): void {
  const spec = objectAt(workload, 'spec');
  const templateSpec = objectAt(objectAt(spec, 'template'), 'spec');
  if (templateSpec) defaultPodSpec(templateSpec);
  if (spec) spec.revisionHistoryLimit ??= 10;
  workload.status ??= {};
}

function workload(kind: string, plural: string, shortName: string, defaults: (spec: JsonObject) => void): KindSpec {
  return {
    kind,
    group: 'apps',
    version: 'v1',
    plural,
    singular: kind.toLowerCase(),
    namespaced: true,
    shortNames: [shortName],
    verbs: STORED_VERBS,
    subresources: ['status'],
    defaults(object) {
      defaultTemplate(object);
      const spec = objectAt(object, 'spec');
      if (spec) defaults(spec);
    },
    validate: templateErrors,
  };
}

/** DaemonSets (apps/v1); the simulator's DaemonSet controller runs their pods. */
export const daemonSetKind = workload('DaemonSet', 'daemonsets', 'ds', (spec) => {
  spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
});

/** Deployments (apps/v1); stored only: no pods are run for them. */
export const deploymentKind = workload('Deployment', 'deployments', 'deploy', (spec) => {
  spec.replicas ??= 1;
  spec.progressDeadlineSeconds ??= 600;
  spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
});

/** StatefulSets (apps/v1); stored only: no pods are run for them. */
export const statefulSetKind = workload('StatefulSet', 'statefulsets', 'sts', (spec) => {
  spec.replicas ??= 1;
  spec.podManagementPolicy ??= 'OrderedReady';
  spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { partition: 0 } };
  // volumeClaimTemplates get no defaulted status: kubectl replaces that list whole, so a status
  // the manifest does not carry would make every re-apply a change.
});
