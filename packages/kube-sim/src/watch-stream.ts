// One watch request: the changes of a kind (in a namespace, through selectors) streamed as
// newline-delimited JSON events, from a resourceVersion, until its timeout or the client leaves.
import type { ServerResponse } from 'node:http';
import type { Clock, ClockTimer } from './clock.js';
import { apiVersionOf, type KindSpec } from './kinds/index.js';
import { objectAt, stringAt, type JsonObject } from './json.js';
import type { Selector } from './selectors.js';
import { ApiError } from './status.js';
import type { ObjectStore } from './store.js';
import type { StoreEvent } from './watch-hub.js';

/** What a watch request asked for. */
export interface WatchRequest {
  kind: KindSpec;
  namespace: string | undefined;
  selectors: Selector[];
  /** The `resourceVersion` query value: '' or '0' starts with the current objects as ADDED. */
  resourceVersion: string;
  allowBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds: number | undefined;
}

/** How often a watch that allows bookmarks gets one, and how long a watch lasts at most. */
export interface WatchLimits {
  bookmarkMs: number;
  maxTimeoutSeconds: number;
}

type WireEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'; object: JsonObject };

/** What the watcher sees of one change: enter/leave its selection as ADDED/DELETED, or nothing. */
function translate(event: StoreEvent, request: WatchRequest): WireEvent | undefined {
  if (event.kind !== request.kind) return undefined;
  const matches = (object: JsonObject | undefined) =>
    object !== undefined &&
    (request.namespace === undefined || stringAt(objectAt(object, 'metadata'), 'namespace') === request.namespace) &&
    request.selectors.every((selector) => selector(object));
  const now = matches(event.object);
  if (event.type !== 'MODIFIED') return now ? { type: event.type, object: event.object } : undefined;
  const before = matches(event.previous);
  if (now && before) return { type: 'MODIFIED', object: event.object };
  if (now) return { type: 'ADDED', object: event.object };
  if (before) return { type: 'DELETED', object: event.object };
  return undefined;
}

/** The open watches, so the simulator can cut them all (as a dropped connection would). */
export class WatchStreams {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly limits: WatchLimits,
  ) {}

  /** Ends every open watch by destroying its connection. */
  dropAll(): void {
    for (const response of this.open) response.socket?.destroy();
    this.open.clear();
  }

  /** Ends every open watch cleanly, as a server does when a watch times out. */
  endAll(): void {
    for (const response of this.open) response.end();
    this.open.clear();
  }

  /** How many watches are open. */
  get count(): number {
    return this.open.size;
  }

  /** Serves `request` on `response` until timeout, close, or simulator stop. */
  serve(request: WatchRequest, response: ServerResponse): void {
    const { kind } = request;
    const bookmark = (): WireEvent => ({ type: 'BOOKMARK', object: { kind: kind.kind, apiVersion: apiVersionOf(kind), metadata: { resourceVersion: String(this.store.resourceVersion) } } });
    response.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    response.flushHeaders();
    // A watch ended by the server (timeout, endAll) hears of changes until its 'close' event: not sent.
    const send = (event: WireEvent) => void (response.writableEnded || response.write(`${JSON.stringify(event)}\n`));
    let timeoutTimer: ClockTimer | undefined;
    let bookmarkTimer: ClockTimer | undefined;
    let unsubscribe = () => {};
    const end = () => {
      unsubscribe();
      timeoutTimer?.cancel();
      bookmarkTimer?.cancel();
      this.open.delete(response);
    };
    response.on('close', end);

    const initial = request.resourceVersion === '' || request.resourceVersion === '0' || request.sendInitialEvents;
    if (initial) {
      for (const object of this.store.list(kind, request.namespace, request.selectors).items) send({ type: 'ADDED', object });
      if (request.sendInitialEvents) {
        const marker = bookmark();
        (marker.object.metadata as JsonObject).annotations = { 'k8s.io/initial-events-end': 'true' };
        send(marker);
      }
    } else {
      const from = Number(request.resourceVersion);
      const replay = Number.isInteger(from) ? this.store.hub.since(from) : 'expired';
      if (replay === 'expired') {
        send({ type: 'ERROR', object: new ApiError('Expired', `too old resource version: ${request.resourceVersion} (${this.store.resourceVersion})`).toStatus() });
        response.end();
        return;
      }
      for (const event of replay) {
        const wire = translate(event, request);
        if (wire) send(wire);
      }
    }
    this.open.add(response);
    unsubscribe = this.store.hub.subscribe((event) => {
      const wire = translate(event, request);
      if (wire) send(wire);
    });
    const timeout = Math.min(request.timeoutSeconds ?? this.limits.maxTimeoutSeconds, this.limits.maxTimeoutSeconds);
    timeoutTimer = this.clock.after(timeout * 1000, () => response.end());
    if (request.allowBookmarks) {
      const tick = () => {
        send(bookmark());
        bookmarkTimer = this.clock.after(this.limits.bookmarkMs, tick);
      };
      bookmarkTimer = this.clock.after(this.limits.bookmarkMs, tick);
    }
  }
}
