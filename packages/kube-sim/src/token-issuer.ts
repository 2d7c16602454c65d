// Projected ServiceAccount tokens: the simulator signs them (HS256 JWTs bound to a pod and its
// node, with an audience and an expiry) and answers TokenReviews of them.
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock.js';
import { isObject, objectAt, stringAt, type JsonObject } from './json.js';

/** The issuer named in every token, as in a real cluster. */
export const ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** The pod a token is bound to, and what it names. */
export interface TokenBinding {
  namespace: string;
  serviceAccount: { name: string; uid: string };
  pod: { name: string; uid: string };
  node: { name: string; uid: string };
}

/** The identity a valid token proves, as TokenReview reports it. */
export interface ReviewedToken extends TokenBinding {
  audiences: string[];
  tokenId: string;
}

/** Looks a pod up by namespace and name, to check a bound token's pod still exists with its uid. */
export type PodLookup = (namespace: string, name: string) => JsonObject | undefined;

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

/** Signs and verifies the simulator's tokens with a key made at start. */
export class TokenIssuer {
  private readonly key = randomBytes(32);

  constructor(private readonly clock: Clock) {}

  /** A token for `audience`, bound to `binding`, valid for `expirationSeconds`. */
  issue(binding: TokenBinding, audience: string, expirationSeconds = 3607): string {
    const now = Math.floor(this.clock.now() / 1000);
    const claims = {
      aud: [audience],
      exp: now + expirationSeconds,
      iat: now,
      nbf: now,
      iss: ISSUER,
      jti: randomUUID(),
      sub: `system:serviceaccount:${binding.namespace}:${binding.serviceAccount.name}`,
      'kubernetes.io': { namespace: binding.namespace, pod: binding.pod, serviceaccount: binding.serviceAccount, node: binding.node },
    };
    const unsigned = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'lzy-kube-sim' }))}.${base64url(JSON.stringify(claims))}`;
    return `${unsigned}.${this.sign(unsigned)}`;
  }

  private sign(unsigned: string): string {
    return createHmac('sha256', this.key).update(unsigned).digest('base64url');
  }

  /**
   * The identity of `token` if it is ours, unexpired, meant for one of `audiences` (when any are
   * asked for) and its pod still exists with the same uid; otherwise the reason it is not.
   */
  review(token: string, audiences: string[], findPod: PodLookup): ReviewedToken | { error: string } {
    const parts = token.split('.');
    if (parts.length !== 3) return { error: 'invalid bearer token' };
    const [header, payload, signature] = parts as [string, string, string];
    const expected = Buffer.from(this.sign(`${header}.${payload}`));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { error: 'invalid bearer token, token signature is invalid' };
    let claims: unknown;
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return { error: 'invalid bearer token' };
    }
    if (!isObject(claims)) return { error: 'invalid bearer token' };
    const now = Math.floor(this.clock.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp < now) return { error: 'invalid bearer token, token has expired' };
    const tokenAudiences = Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : [];
    const granted = audiences.length === 0 ? tokenAudiences : tokenAudiences.filter((a) => audiences.includes(a));
    if (granted.length === 0) return { error: 'invalid bearer token, token audiences is invalid for the current issuer' };
    const bound = objectAt(claims, 'kubernetes.io');
    const namespace = stringAt(bound, 'namespace');
    const pod = objectAt(bound, 'pod');
    const serviceAccount = objectAt(bound, 'serviceaccount');
    const node = objectAt(bound, 'node');
    const podName = stringAt(pod, 'name');
    if (!namespace || !podName) return { error: 'invalid bearer token' };
    const live = findPod(namespace, podName);
    const liveUid = stringAt(objectAt(live, 'metadata'), 'uid');
    if (!live || liveUid !== stringAt(pod, 'uid')) return { error: `invalid bearer token, pod "${podName}" not found or its uid differs` };
    return {
      namespace,
      audiences: granted,
      tokenId: String(claims.jti),
      pod: { name: podName, uid: liveUid ?? '' },
      serviceAccount: { name: stringAt(serviceAccount, 'name') ?? '', uid: stringAt(serviceAccount, 'uid') ?? '' },
      node: { name: stringAt(node, 'name') ?? '', uid: stringAt(node, 'uid') ?? '' },
    };
  }
}

/** The TokenReview status of a review's outcome, as authentication.k8s.io/v1 reports it. */
export function tokenReviewStatus(result: ReviewedToken | { error: string }): JsonObject {
  if ('error' in result) return { authenticated: false, error: result.error, user: {} };
  return {
    authenticated: true,
    audiences: result.audiences,
    user: {
      username: `system:serviceaccount:${result.namespace}:${result.serviceAccount.name}`,
      uid: result.serviceAccount.uid,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${result.namespace}`, 'system:authenticated'],
      extra: {
        'authentication.kubernetes.io/pod-name': [result.pod.name],
        'authentication.kubernetes.io/pod-uid': [result.pod.uid],
        'authentication.kubernetes.io/node-name': [result.node.name],
        'authentication.kubernetes.io/node-uid': [result.node.uid],
        'authentication.kubernetes.io/credential-id': [`JTI=${result.tokenId}`],
      },
    },
  };
}
