// The kubeconfig the simulator writes: one cluster at its URL, a user with a token, one context.
import { writeFileSync } from 'node:fs';

/** The kubeconfig text (YAML is a superset of JSON, so JSON is written) for `server`. */
export function kubeconfigFor(server: string): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'lzy-kube-sim', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'lzy-kube-sim', user: { token: 'lzy-kube-sim' } }],
    contexts: [{ name: 'lzy-kube-sim', context: { cluster: 'lzy-kube-sim', user: 'lzy-kube-sim', namespace: 'default' } }],
    'current-context': 'lzy-kube-sim',
    preferences: {},
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Writes the kubeconfig for `server` to `path` (readable by its owner only). */
export function writeKubeconfig(path: string, server: string): void {
  writeFileSync(path, kubeconfigFor(server), { mode: 0o600 });
}
