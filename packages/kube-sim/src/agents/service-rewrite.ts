// Service DNS names the simulated pods' processes cannot resolve, rewritten to the host and port
// each stands for (`--service NAME.NAMESPACE=HOST:PORT`).

/** A Service and the address its DNS name reaches. */
export interface ServiceTarget {
  name: string;
  namespace: string;
  /** `HOST:PORT`. */
  address: string;
}

/** Parses `NAME.NAMESPACE=HOST:PORT`; throws on anything else. */
export function parseServiceTarget(text: string): ServiceTarget {
  const match = /^([a-z0-9-]+)\.([a-z0-9-]+)=([^=\s:]+:\d+)$/.exec(text);
  if (!match) throw new Error(`--service must be NAME.NAMESPACE=HOST:PORT, got '${text}'`);
  return { name: match[1]!, namespace: match[2]!, address: match[3]! };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `value` with every host of a listed Service (`NAME`, in its own namespace only, `NAME.NS`,
 * `NAME.NS.svc`, `NAME.NS.svc.cluster.local`, with any port) replaced by its address.
 */
export function rewriteServiceHosts(value: string, services: readonly ServiceTarget[], podNamespace: string): string {
  let result = value;
  for (const service of services) {
    const qualified = `${escape(service.name)}\\.${escape(service.namespace)}(?:\\.svc(?:\\.cluster\\.local)?)?`;
    const host = service.namespace === podNamespace ? `(?:${qualified}|${escape(service.name)})` : qualified;
    result = result.replace(new RegExp(`(^|//|@)${host}(?::\\d+)?(?=$|[/?#\\s])`, 'g'), `$1${service.address}`);
  }
  return result;
}
