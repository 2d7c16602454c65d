import { decodeValue } from '@lzy/node-agent/protocol';
import type { RuntimeConnection, WorkflowEvent } from '@lzy/runtime';
import { OpError, WorkflowCancelledError } from './errors.js';
import { opLine } from './notices.js';
import type { OpLogLine } from './workflow-run.js';

/** Options of `Lzy.attach`. */
export interface AttachOptions {
  /** Hears every event of the run: the results so far first, then what happens until it ends. */
  onEvent?: (event: WorkflowEvent) => void;
  /** Stops following the run (the run goes on); the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Follows the run `workflowId` beside its own client and any other watcher, printing its ops'
 * output through `onLog`, until it ends: resolves with the value its workflow function returned
 * (undefined when that was not data), rejects with the `OpError` of the op that failed it or a
 * `WorkflowCancelledError`. Rejects with `NOT_FOUND` for a run that is not the tenant's.
 */
export async function attachRun<T>(
  connection: RuntimeConnection,
  workflowId: string,
  onLog: (line: OpLogLine) => void,
  options: AttachOptions = {},
): Promise<T> {
  const { signal, onEvent } = options;
  signal?.throwIfAborted();
  // Another tenant's run answers NOT_FOUND here, as a missing one does.
  await connection.describe(workflowId, 0, 1);
  return new Promise<T>((resolve, reject) => {
    let failure: Error | undefined;
    const onAbort = () => {
      stop();
      reject(signal!.reason);
    };
    const stop = connection.watch(workflowId, (event) => {
      onEvent?.(event);
      const line = opLine(event);
      if (line) onLog(line);
      if (event.type === 'op-failed') failure ??= new OpError(event.failure, event.opName, event.attempt);
      if (event.type !== 'workflow-ended') return;
      signal?.removeEventListener('abort', onAbort);
      if (event.status === 'cancelled') return reject(new WorkflowCancelledError(event.reason ?? 'cancelled'));
      if (event.status !== 'finished') return reject(failure ?? new Error(`workflow ${workflowId} ${event.status}: ${event.reason ?? ''}`));
      const { result } = event;
      if (!result) return resolve(undefined as T);
      const bytes = result.inline ? Promise.resolve(result.inline) : connection.getBlob(result);
      bytes.then((value) => resolve(decodeValue(value) as T)).catch(reject);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
