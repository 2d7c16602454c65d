import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RuntimeConnection } from '../client.js';
import type { WorkflowEvent } from '../protocol/client.js';

/** What the page hears of a run's event: enough to know what changed, without any value. */
export type PageEvent =
  | { type: 'op-succeeded'; opId: string; cached: boolean }
  | { type: 'op-failed' | 'op-retrying' | 'op-cache-miss'; opId: string }
  | { type: 'op-log'; opId: string; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'progress' }
  | { type: 'workflow-ended'; status: string; reason?: string };

/** `event` as the page hears it: results (which may hold a value inline) stay out. */
export function pageEventOf(event: WorkflowEvent): PageEvent {
  switch (event.type) {
    case 'op-succeeded':
      return { type: event.type, opId: event.opId, cached: event.cached };
    case 'op-failed':
    case 'op-retrying':
    case 'op-cache-miss':
      return { type: event.type, opId: event.opId };
    case 'op-log':
      return { type: event.type, opId: event.opId, stream: event.stream, text: event.text };
    case 'progress':
      return { type: event.type };
    case 'workflow-ended':
      return event.reason === undefined ? { type: event.type, status: event.status } : { type: event.type, status: event.status, reason: event.reason };
  }
}

/**
 * Follows run `workflowId` as another watcher of it (as `lzy status --watch` does) and streams
 * its events to the page as server-sent events, one `data:` line of JSON each. Resolves when the
 * stream ends: the run ended, the page went away, or `maxMs` passed (the session's life: the
 * page's EventSource then comes back and is refused once the session has expired).
 */
export function streamRunEvents(req: IncomingMessage, res: ServerResponse, connection: RuntimeConnection, workflowId: string, maxMs: number): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(': following the run\n\n');
  return new Promise<void>((resolve) => {
    let stop = () => {};
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      stop();
      res.end();
      resolve();
    };
    const timer = setTimeout(end, maxMs);
    req.once('close', end);
    stop = connection.watch(workflowId, (event) => {
      res.write(`data: ${JSON.stringify(pageEventOf(event))}\n\n`);
      if (event.type === 'workflow-ended') end();
    });
  });
}
