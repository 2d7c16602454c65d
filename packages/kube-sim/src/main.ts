#!/usr/bin/env node
// lzy-kube-sim: serves a simulated cluster on 127.0.0.1:PORT until SIGTERM or SIGINT.
import { writeSync } from 'node:fs';
import { parseSimArgs, USAGE, type SimArgs } from './args.js';
import { startKubeSim } from './sim.js';

function argsOrExit(): SimArgs {
  try {
    return parseSimArgs(process.argv.slice(2));
  } catch (error) {
    writeSync(2, `lzy-kube-sim: ${(error as Error).message}; ${USAGE}\n`);
    process.exit(2);
  }
}

const args = argsOrExit();
const sim = await startKubeSim({
  port: args.port,
  kubeconfigPath: args.kubeconfig,
  pools: args.pools,
  realAgents: args.realAgents,
  services: args.services,
  podStartMs: args.podStartMs,
  deletedNodes: args.reRegisterNodes ? 're-register' : 'terminate',
});
process.stdout.write(`lzy-kube-sim: serving ${sim.url}; kubeconfig ${args.kubeconfig}\n`);
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void sim.stop().then(() => process.exit(0));
  });
}
