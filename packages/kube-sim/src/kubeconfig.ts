// The kubeconfig the simulator writes: one cluster at its URL, a user with a token, one context.
import { renameSync, writeFileSync } from 'node:fs';

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

/**
 * Writes the kubeconfig for `server` to `path` (readable by its owner only), whole at once: it is
 * written beside and renamed into place, so whoever waits for the file never reads half of it.
 */
export function writeKubeconfig(path: string, server: string): void {
  const partial = `${path}.${process.pid}.partial`;
  writeFileSync(partial, kubeconfigFor(server), { mode: 0o600 });
  renameSync(partial, path);
}
