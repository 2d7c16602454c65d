// RBAC kinds (rbac.authorization.k8s.io/v1): stored and validated, not enforced: every request is allowed.
import { objectAt, type JsonObject } from '../json.js';
import type { FieldError } from '../status.js';
import { STORED_VERBS, type KindSpec } from './kind.js';
import { immutable, objectItems, oneOf, required } from './validation.js';

function ruleErrors(role: JsonObject, clusterScoped: boolean): FieldError[] {
  return objectItems(role.rules).flatMap(([index, rule]) => {
    const field = `rules[${index}]`;
    const errors = required(`${field}.verbs`, rule.verbs);
    if (rule.nonResourceURLs !== undefined) {
      if (!clusterScoped) errors.push({ field: `${field}.nonResourceURLs`, message: 'Invalid value: namespaced rules cannot apply to non-resource URLs' });
    } else {
      errors.push(...required(`${field}.apiGroups`, rule.apiGroups ?? (clusterScoped && rule.resources === undefined ? ['x'] : undefined)));
      errors.push(...required(`${field}.resources`, rule.resources));
    }
    return errors;
  });
}

function bindingErrors(binding: JsonObject, previous: JsonObject | undefined, clusterScoped: boolean): FieldError[] {
  const roleRef = objectAt(binding, 'roleRef');
  const errors: FieldError[] = [
    ...required('roleRef.name', roleRef?.name),
    ...oneOf('roleRef.apiGroup', roleRef?.apiGroup ?? '', ['rbac.authorization.k8s.io']),
    ...oneOf('roleRef.kind', roleRef?.kind ?? '', clusterScoped ? ['ClusterRole'] : ['Role', 'ClusterRole']),
  ];
  for (const [index, subject] of objectItems(binding.subjects)) {
    const field = `subjects[${index}]`;
    errors.push(...required(`${field}.name`, subject.name), ...oneOf(`${field}.kind`, subject.kind ?? '', ['ServiceAccount', 'User', 'Group']));
    if (subject.kind === 'ServiceAccount' && clusterScoped) errors.push(...required(`${field}.namespace`, subject.namespace));
  }
  if (previous) errors.push(...immutable('roleRef', binding.roleRef, previous.roleRef));
  return errors;
}

function rbac(kind: string, plural: string, namespaced: boolean, validate: KindSpec['validate']): KindSpec {
  return { kind, group: 'rbac.authorization.k8s.io', version: 'v1', plural, singular: kind.toLowerCase(), namespaced, verbs: STORED_VERBS, ...(validate ? { validate } : {}) };
}

/** Roles. */
export const roleKind = rbac('Role', 'roles', true, (role) => ruleErrors(role, false));
/** ClusterRoles. */
export const clusterRoleKind = rbac('ClusterRole', 'clusterroles', false, (role) => ruleErrors(role, true));
/** RoleBindings. */
export const roleBindingKind = rbac('RoleBinding', 'rolebindings', true, (binding, previous) => bindingErrors(binding, previous, false));
/** ClusterRoleBindings. */
export const clusterRoleBindingKind = rbac('ClusterRoleBinding', 'clusterrolebindings', false, (binding, previous) => bindingErrors(binding, previous, true));
