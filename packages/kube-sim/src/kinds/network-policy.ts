// NetworkPolicies (networking.k8s.io/v1): stored and validated, not enforced (nothing routes packets here).
import { isObject, objectAt, type Json } from '../json.js';
import type { FieldError } from '../status.js';
import { STORED_VERBS, type KindSpec } from './kind.js';
import { objectErrors, objectItems, oneOf, required } from './validation.js';

const CIDR = /^(\d{1,3}(\.\d{1,3}){3}\/\d{1,2}|[0-9a-fA-F:]+\/\d{1,3})$/;

function peerErrors(field: string, peers: Json | undefined): FieldError[] {
  return objectItems(peers).flatMap(([index, peer]) => {
    const path = `${field}[${index}]`;
    const errors: FieldError[] = [...objectErrors(`${path}.podSelector`, peer.podSelector), ...objectErrors(`${path}.namespaceSelector`, peer.namespaceSelector)];
    const kinds = ['podSelector', 'namespaceSelector', 'ipBlock'].filter((k) => peer[k] !== undefined);
    if (kinds.length === 0) errors.push({ field: path, message: 'Required value: must specify a peer' });
    const ipBlock = objectAt(peer, 'ipBlock');
    if (ipBlock) {
      if (kinds.length > 1) errors.push({ field: path, message: 'Forbidden: may not specify both ipBlock and another peer' });
      if (typeof ipBlock.cidr !== 'string' || !CIDR.test(ipBlock.cidr)) errors.push({ field: `${path}.ipBlock.cidr`, message: `Invalid value: ${JSON.stringify(ipBlock.cidr)}: must be a valid CIDR` });
      for (const [i, except] of (Array.isArray(ipBlock.except) ? ipBlock.except : []).entries()) {
        if (typeof except !== 'string' || !CIDR.test(except)) errors.push({ field: `${path}.ipBlock.except[${i}]`, message: 'Invalid value: must be a valid CIDR' });
      }
    }
    return errors;
  });
}

function portErrors(field: string, ports: Json | undefined): FieldError[] {
  return objectItems(ports).flatMap(([index, port]) => {
    const path = `${field}[${index}]`;
    const errors = oneOf(`${path}.protocol`, port.protocol, ['TCP', 'UDP', 'SCTP']);
    const number = port.port;
    if (typeof number === 'number' && (number < 1 || number > 65535)) errors.push({ field: `${path}.port`, message: 'Invalid value: must be between 1 and 65535, inclusive' });
    if (number !== undefined && typeof number !== 'number' && typeof number !== 'string') errors.push({ field: `${path}.port`, message: 'Invalid value: must be a number or a name' });
    if (port.endPort !== undefined && (typeof number !== 'number' || typeof port.endPort !== 'number' || port.endPort < number)) {
      errors.push({ field: `${path}.endPort`, message: 'Invalid value: must be a number not less than `port`' });
    }
    return errors;
  });
}

/** NetworkPolicies: podSelector, policy types, peers, ports and CIDRs are checked. */
export const networkPolicyKind: KindSpec = {
  kind: 'NetworkPolicy',
  group: 'networking.k8s.io',
  version: 'v1',
  plural: 'networkpolicies',
  singular: 'networkpolicy',
  namespaced: true,
  shortNames: ['netpol'],
  verbs: STORED_VERBS,
  defaults(policy) {
    const spec = objectAt(policy, 'spec');
    if (!spec || spec.policyTypes !== undefined) return;
    spec.policyTypes = spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress'];
    for (const rules of [spec.ingress, spec.egress]) for (const [, rule] of objectItems(rules)) for (const [, port] of objectItems(rule.ports)) port.protocol ??= 'TCP';
  },
  validate(policy) {
    const spec = objectAt(policy, 'spec');
    const errors: FieldError[] = [...required('spec', policy.spec), ...objectErrors('spec.podSelector', spec?.podSelector)];
    if (spec && !isObject(spec.podSelector)) errors.push({ field: 'spec.podSelector', message: 'Required value' });
    for (const type of Array.isArray(spec?.policyTypes) ? spec.policyTypes : []) errors.push(...oneOf('spec.policyTypes', type, ['Ingress', 'Egress']));
    for (const [index, rule] of objectItems(spec?.ingress)) errors.push(...peerErrors(`spec.ingress[${index}].from`, rule.from), ...portErrors(`spec.ingress[${index}].ports`, rule.ports));
    for (const [index, rule] of objectItems(spec?.egress)) errors.push(...peerErrors(`spec.egress[${index}].to`, rule.to), ...portErrors(`spec.egress[${index}].ports`, rule.ports));
    return errors;
  },
};
