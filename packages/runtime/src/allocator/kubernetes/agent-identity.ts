import type { AuthenticationV1Api, CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT, AGENT_TOKEN_AUDIENCE } from './cluster-names.js';

/** Where a node-agent proved it runs: its pod, and the node the pod is bound to. */
export interface AgentPod {
  readonly pod: string;
  readonly podUid: string;
  readonly node: string;
}

const EXTRA = 'authentication.kubernetes.io/';

/**
 * Checks a node-agent's projected ServiceAccount token: the cluster's TokenReview must accept it
 * for the audience `lzy`, as a token of the agents' ServiceAccount bound to a pod; that pod must
 * still exist with the same uid (as the agent pods' watch saw it, or read now), run as that ServiceAccount in the agents' namespace, and be bound
 * to the node the token names. Throws, saying why, for any other token.
 */
export async function verifyAgentToken(
  apis: { core: CoreV1Api; auth: AuthenticationV1Api },
  token: string,
  /** The agent pod `name` with uid `uid` as a watch saw it, if it did: no read then. */
  seenPod: (name: string, uid: string) => V1Pod | undefined = () => undefined,
): Promise<AgentPod> {
  const review = await apis.auth.createTokenReview({ body: { spec: { token, audiences: [AGENT_TOKEN_AUDIENCE] } } });
  const status = review.status;
  if (!status?.authenticated) throw new Error(`the cluster did not accept the token: ${status?.error ?? 'not authenticated'}`);
  if (!status.audiences?.includes(AGENT_TOKEN_AUDIENCE)) throw new Error(`the token is not meant for the audience ${AGENT_TOKEN_AUDIENCE}`);
  const expected = `system:serviceaccount:${AGENT_NAMESPACE}:${AGENT_SERVICE_ACCOUNT}`;
  if (status.user?.username !== expected) throw new Error(`the token is ${status.user?.username ?? 'nobody'}'s, not the node-agents' (${expected})`);
  const extra = status.user.extra ?? {};
  const podName = extra[`${EXTRA}pod-name`]?.[0];
  const podUid = extra[`${EXTRA}pod-uid`]?.[0];
  const tokenNode = extra[`${EXTRA}node-name`]?.[0];
  if (!podName || !podUid) throw new Error('the token is bound to no pod');
  const pod = seenPod(podName, podUid) ?? (await apis.core.readNamespacedPod({ name: podName, namespace: AGENT_NAMESPACE }).catch(() => undefined));
  if (!pod || pod.metadata?.uid !== podUid) throw new Error(`the token's pod ${AGENT_NAMESPACE}/${podName} is gone`);
  if (pod.spec?.serviceAccountName !== AGENT_SERVICE_ACCOUNT) throw new Error(`pod ${podName} does not run as ${AGENT_SERVICE_ACCOUNT}`);
  const node = pod.spec.nodeName;
  if (!node) throw new Error(`pod ${podName} is on no node`);
  if (tokenNode !== undefined && tokenNode !== node) throw new Error(`the token names node ${tokenNode}, its pod runs on ${node}`);
  return { pod: podName, podUid, node };
}
