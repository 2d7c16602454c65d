// The command line of lzy-kube-sim.
import { parseArgs } from 'node:util';
import { parseServiceTarget, type ServiceTarget } from './agents/service-rewrite.js';

/** The one-line synopsis printed with a usage error. */
export const USAGE = 'usage: lzy-kube-sim --port PORT --kubeconfig FILE --pool NAME=COUNT [--pool NAME=COUNT]... [--real-agents] [--service NAME.NAMESPACE=HOST:PORT]... [--pod-start-ms MS] [--re-register-nodes]';

/** How lzy-kube-sim was asked to run. */
export interface SimArgs {
  port: number;
  kubeconfig: string;
  pools: Record<string, number>;
  realAgents: boolean;
  services: ServiceTarget[];
  podStartMs: number;
  reRegisterNodes: boolean;
}

/** Reads the command line (without node and the script); throws an Error saying what is wrong. */
export function parseSimArgs(argv: string[]): SimArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      kubeconfig: { type: 'string' },
      pool: { type: 'string', multiple: true },
      'real-agents': { type: 'boolean' },
      service: { type: 'string', multiple: true },
      'pod-start-ms': { type: 'string' },
      're-register-nodes': { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  const port = Number(values.port);
  if (values.port === undefined || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error('--port PORT is required (0 to 65535)');
  if (!values.kubeconfig) throw new Error('--kubeconfig FILE is required');
  const pools: Record<string, number> = {};
  for (const pool of values.pool ?? []) {
    const match = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)=(\d+)$/.exec(pool);
    if (!match) throw new Error(`--pool must be NAME=COUNT, got '${pool}'`);
    pools[match[1]!] = Number(match[3]);
  }
  const podStartMs = Number(values['pod-start-ms'] ?? 0);
  if (!Number.isFinite(podStartMs) || podStartMs < 0) throw new Error('--pod-start-ms must be a number of milliseconds');
  return {
    port,
    kubeconfig: values.kubeconfig,
    pools,
    realAgents: values['real-agents'] ?? false,
    services: (values.service ?? []).map(parseServiceTarget),
    podStartMs,
    reRegisterNodes: values['re-register-nodes'] ?? false,
  };
}
