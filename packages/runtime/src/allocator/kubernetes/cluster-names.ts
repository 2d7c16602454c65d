import type { V1Node } from '@kubernetes/client-node';

/** The label that puts a node in a Lzy pool: `lzy.dev/pool=NAME`. */
export const POOL_LABEL = 'lzy.dev/pool';
/** The label (and taint key) of the one tenant a leased node serves; joined agent pods carry it too. */
export const TENANT_LABEL = 'lzy.dev/tenant';
/** The label the node-agent DaemonSet selects: only leased nodes run an agent. */
export const LEASED_LABEL = 'lzy.dev/leased';
/** The label of a node whose machine served a tenant before: it serves no one again. */
export const RETIRED_LABEL = 'lzy.dev/retired';
/** Where the node-agent pods run, as deploy/ installs them. */
export const AGENT_NAMESPACE = 'lzy-agents';
export const AGENT_SERVICE_ACCOUNT = 'lzy-node-agent';
/** The labels of the node-agent pods, and the same as a label selector. */
export const AGENT_POD_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'lzy-node-agent' };
export const AGENT_POD_SELECTOR = 'app.kubernetes.io/name=lzy-node-agent';
/** The audience of the agents' projected ServiceAccount tokens. */
export const AGENT_TOKEN_AUDIENCE = 'lzy';
/** Where the runtime runs, as deploy/ installs it: its namespace, its pods' labels, its gateway's port. */
export const RUNTIME_NAMESPACE = 'lzy-system';
export const RUNTIME_POD_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'lzy-runtime' };
export const RUNTIME_PORT = 8080;

/** Whether the node's kubelet reports it Ready. */
export function nodeIsReady(node: V1Node): boolean {
  return node.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ?? false;
}
