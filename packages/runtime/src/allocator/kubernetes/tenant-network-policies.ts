import { createHash } from 'node:crypto';
import { ApiException, type NetworkingV1Api, type V1NetworkPolicy, type V1NetworkPolicyPeer } from '@kubernetes/client-node';
import { AGENT_NAMESPACE, AGENT_POD_LABELS, RUNTIME_NAMESPACE, RUNTIME_POD_LABELS, RUNTIME_PORT, TENANT_LABEL } from './cluster-names.js';

/** The label that marks the NetworkPolicies the runtime keeps, so that it finds them again after a restart. */
const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'lzy-runtime' };
const MANAGED_SELECTOR = `app.kubernetes.io/managed-by=lzy-runtime,${TENANT_LABEL}`;

/** The name of `tenant`'s NetworkPolicy: readable, and distinct for every tenant name (`_` is not allowed in a name, so a hash keeps it apart). */
export function tenantPolicyName(tenant: string): string {
  const hash = createHash('sha256').update(tenant).digest('hex').slice(0, 8);
  return `lzy-tenant-${tenant.replace(/[^a-z0-9.-]/g, '-')}-${hash}`;
}

/**
 * The NetworkPolicy that fences `tenant`'s joined agent pods (`lzy.dev/tenant=TENANT` in the
 * agents' namespace): traffic in only from that tenant's agent pods and the runtime; out only to
 * them, the runtime's gateway (which also serves the storage the ops read and write), and DNS.
 */
export function tenantNetworkPolicy(tenant: string): V1NetworkPolicy {
  const tenantPods: V1NetworkPolicyPeer = { podSelector: { matchLabels: { ...AGENT_POD_LABELS, [TENANT_LABEL]: tenant } } };
  const runtime: V1NetworkPolicyPeer = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': RUNTIME_NAMESPACE } },
    podSelector: { matchLabels: { ...RUNTIME_POD_LABELS } },
  };
  const dns: V1NetworkPolicyPeer = {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
    podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
  };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: tenantPolicyName(tenant),
      namespace: AGENT_NAMESPACE,
      labels: { ...MANAGED_BY, 'app.kubernetes.io/part-of': 'lzy', [TENANT_LABEL]: tenant },
    },
    spec: {
      podSelector: tenantPods.podSelector!,
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ _from: [tenantPods, runtime] }],
      egress: [
        { to: [tenantPods] },
        { to: [runtime], ports: [{ port: RUNTIME_PORT, protocol: 'TCP' }] },
        { to: [dns], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] },
      ],
    },
  };
}

/**
 * The per-tenant NetworkPolicies of the agents' namespace. `withFence` writes a tenant's policy
 * (once per runtime run, unless removed since) before what it is asked to do; `unfenceIfIdle`
 * removes it if, when its turn comes, `inUse` says the tenant has neither a lease nor an agent pod left. The writes and removals of one
 * tenant run one after the other, in the order asked: a removal never lands between a policy's
 * write and what was to follow it, and a write after a removal writes the policy again.
 */
export class TenantNetworkPolicies {
  private readonly written = new Set<string>();
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly api: NetworkingV1Api,
    private readonly inUse: (tenant: string) => boolean,
  ) {}

  /**
   * Makes sure `tenant`'s policy is in the cluster as `tenantNetworkPolicy` says (created, or
   * replaced if it was there), then runs `action` (e.g. labelling a pod for the tenant) before any
   * removal asked for later. Rejects, without running `action`, if the policy could not be written.
   */
  withFence(tenant: string, action: () => Promise<void>): Promise<void> {
    return this.enqueue(tenant, async () => {
      if (!this.written.has(tenant)) {
        const body = tenantNetworkPolicy(tenant);
        try {
          await this.api.createNamespacedNetworkPolicy({ namespace: AGENT_NAMESPACE, body });
        } catch (error) {
          if (!(error instanceof ApiException && error.code === 409)) throw error;
          await this.api.replaceNamespacedNetworkPolicy({ name: body.metadata!.name!, namespace: AGENT_NAMESPACE, body });
        }
        this.written.add(tenant);
      }
      await action();
    });
  }

  /** Removes `tenant`'s policy unless the tenant is in use when this runs; a policy gone already is fine. */
  unfenceIfIdle(tenant: string): Promise<void> {
    return this.enqueue(tenant, async () => {
      if (this.inUse(tenant)) return;
      try {
        await this.api.deleteNamespacedNetworkPolicy({ name: tenantPolicyName(tenant), namespace: AGENT_NAMESPACE });
      } catch (error) {
        if (!(error instanceof ApiException && error.code === 404)) throw error;
      }
      this.written.delete(tenant);
    });
  }

  /** The tenants with a policy of the runtime's in the cluster, this run's or a previous one's. */
  async fencedTenants(): Promise<string[]> {
    const { items } = await this.api.listNamespacedNetworkPolicy({ namespace: AGENT_NAMESPACE, labelSelector: MANAGED_SELECTOR });
    return items.map((policy) => policy.metadata?.labels?.[TENANT_LABEL]).filter((tenant) => tenant !== undefined);
  }

  /** Resolves once every write and removal asked for so far has ended. */
  async settled(): Promise<void> {
    await Promise.all(this.queues.values());
  }

  private enqueue(tenant: string, step: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(tenant) ?? Promise.resolve()).then(step);
    const tail = next.catch(() => {});
    this.queues.set(tenant, tail);
    void tail.then(() => this.queues.get(tenant) === tail && this.queues.delete(tenant));
    return next;
  }
}
