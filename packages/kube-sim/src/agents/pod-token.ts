// A pod's projected ServiceAccount token, as the kubelet writes it into the pod's projected volume.
import { serviceAccountKind } from '../kinds/index.js';
import { objectAt, stringAt, type JsonObject } from '../json.js';
import type { ObjectStore } from '../store.js';
import type { TokenIssuer } from '../token-issuer.js';

/** Kubernetes' default lifetime of a projected token. */
const DEFAULT_EXPIRATION_SECONDS = 3607;

/** A token of `pod`'s ServiceAccount for `audience`, bound to the pod and `node`, as TokenReview accepts it. */
export function issuePodToken(
  sim: { store: ObjectStore; tokens: TokenIssuer },
  pod: JsonObject,
  node: JsonObject,
  audience: string,
  expirationSeconds = DEFAULT_EXPIRATION_SECONDS,
): string {
  const metadata = objectAt(pod, 'metadata');
  const namespace = String(metadata?.namespace);
  const accountName = stringAt(objectAt(pod, 'spec'), 'serviceAccountName') ?? 'default';
  const account = sim.store.find(serviceAccountKind, namespace, accountName);
  return sim.tokens.issue(
    {
      namespace,
      serviceAccount: { name: accountName, uid: stringAt(objectAt(account, 'metadata'), 'uid') ?? '' },
      pod: { name: String(metadata?.name), uid: String(metadata?.uid) },
      node: { name: String(objectAt(node, 'metadata')?.name), uid: String(objectAt(node, 'metadata')?.uid) },
    },
    audience,
    expirationSeconds,
  );
}
