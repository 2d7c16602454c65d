// @lzy/kube-sim: a simulated Kubernetes cluster for tests, benches and demos.
export { startKubeSim, type KubeSim, type KubeSimOptions } from './sim.js';
export { ManualClock, systemClock, type Clock, type ClockTimer } from './clock.js';
export { LightAgent, lightAgents, type PodAgent, type PodAgentLauncher, type PodContext } from './agents/pod-agent.js';
export { parseServiceTarget, type ServiceTarget } from './agents/service-rewrite.js';
export { POOL_LABEL, RETIRED_LABEL, type DeletedNodeMode, type Machine } from './controllers/provisioner.js';
export { kubeconfigFor } from './kubeconfig.js';
export { ISSUER } from './token-issuer.js';
export { issuePodToken } from './agents/pod-token.js';
export type { StoreEvent } from './watch-hub.js';
export { seededRandom } from './seeded-random.js';
