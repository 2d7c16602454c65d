import { KubeConfig } from '@kubernetes/client-node';

/**
 * The cluster the runtime's Kubernetes pools are in: the kubeconfig at `path`, or else the
 * default one (`KUBECONFIG`, `~/.kube/config`, or the pod's ServiceAccount when in a cluster).
 */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (path === undefined) config.loadFromDefault();
  else config.loadFromFile(path);
  if (!config.getCurrentCluster()) throw new Error(`no Kubernetes cluster is configured${path === undefined ? ' (set KUBECONFIG or pass --kubeconfig)' : ` in ${path}`}`);
  return config;
}
