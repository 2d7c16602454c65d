import type { CacheMiss, WorkflowEvent } from '@lzy/runtime';
import type { OpLogLine } from './workflow-run.js';

/** The line a client shows for an event about one op: its output, a retry, a cache miss; undefined for the others. */
export function opLine(event: WorkflowEvent): OpLogLine | undefined {
  switch (event.type) {
    case 'op-log':
      return { opName: event.opName, opId: event.opId, stream: event.stream, text: event.text };
    case 'op-retrying':
      return {
        opName: event.opName,
        opId: event.opId,
        stream: 'lzy',
        text: `attempt ${event.attempt} failed (${event.failure.code}: ${event.failure.message}); retrying in ${event.delayMs} ms`,
      };
    case 'op-cache-miss':
      return { opName: event.opName, opId: event.opId, stream: 'lzy', text: `not taken from the cache (${describeMiss(event.miss)}); running it` };
    default:
      return undefined;
  }
}

/** A cache miss in words: its reason, and the files that changed where they are known (`code-changed: ops.js, helpers.js`). */
export function describeMiss(miss: CacheMiss): string {
  return miss.files && miss.files.length > 0 ? `${miss.reason}: ${miss.files.join(', ')}` : miss.reason;
}
