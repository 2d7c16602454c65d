import { makeInformer, type KubeConfig, type KubernetesObject, type ListPromise } from '@kubernetes/client-node';

/** Longest wait before an informer that failed is started again. */
const MAX_BACKOFF_MS = 10_000;

/** The callbacks of a kept informer, each called with the object as the cluster has it now (or had it last, for `deleted`). */
export interface InformerHandlers<T> {
  changed(object: T): void;
  deleted(object: T): void;
  /** An error the informer stopped on; it is started again after a backoff. */
  failed(error: unknown, retryInMs: number): void;
}

/** A running informer; `stop` ends it for good. */
export interface KeptInformer {
  stop(): Promise<void>;
}

/**
 * An informer (client-node's list, then watch from the list's resourceVersion; a 410 Gone re-lists)
 * that is started again, with a doubling backoff, whenever it stops on an error: a dropped
 * connection, an API server that went away, a failed list. Resolves once the first list is in.
 */
export async function keepInformer<T extends KubernetesObject>(
  config: KubeConfig,
  path: string,
  list: ListPromise<T>,
  labelSelector: string,
  handlers: InformerHandlers<T>,
): Promise<KeptInformer> {
  const informer = makeInformer(config, path, list, labelSelector);
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  informer.on('add', (object) => handlers.changed(object));
  informer.on('update', (object) => handlers.changed(object));
  informer.on('delete', (object) => handlers.deleted(object));
  // A start that ends watching, with no new failure scheduled, resets the backoff.
  const start = () => informer.start().then(() => timer === undefined && (failures = 0), retry);
  const restart = () => {
    timer = undefined;
    if (!stopped) void start();
  };
  const retry = (error: unknown) => {
    if (stopped || timer) return;
    const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** failures++);
    handlers.failed(error, delay);
    timer = setTimeout(restart, delay);
    timer.unref();
  };
  informer.on('error', retry);
  await start();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
    },
  };
}
