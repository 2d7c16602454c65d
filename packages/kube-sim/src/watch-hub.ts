// Every change the store makes, in resourceVersion order: a bounded history that watches replay
// from, and the listeners (watches and controllers) told of each change as it happens.
import type { KindSpec } from './kinds/index.js';
import type { JsonObject } from './json.js';

/** One change of a stored object. `previous` is the object before a MODIFIED. */
export interface StoreEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  kind: KindSpec;
  object: JsonObject;
  previous?: JsonObject;
  resourceVersion: number;
}

/** A function told of every change. */
export type StoreListener = (event: StoreEvent) => void;

/** The recent changes, at most `limit` of them, and the listeners. */
export class WatchHub {
  private history: StoreEvent[] = [];
  /** Changes at or before this resourceVersion are no longer in the history. */
  private compactedThrough = 0;
  private listeners = new Set<StoreListener>();

  constructor(private readonly limit: number) {}

  /** Records a change and tells every listener. */
  publish(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.limit) this.compactedThrough = this.history.splice(0, this.history.length - this.limit).at(-1)!.resourceVersion;
    for (const listener of [...this.listeners]) listener(event);
  }

  /** The changes after `resourceVersion`, or 'expired' when some of them are no longer kept. */
  since(resourceVersion: number): StoreEvent[] | 'expired' {
    if (resourceVersion < this.compactedThrough) return 'expired';
    return this.history.filter((event) => event.resourceVersion > resourceVersion);
  }

  /** Forgets the whole history up to `resourceVersion`, so older watches must re-list (410). */
  compact(resourceVersion: number): void {
    this.history = this.history.filter((event) => event.resourceVersion > resourceVersion);
    this.compactedThrough = Math.max(this.compactedThrough, resourceVersion);
  }

  /** Calls `listener` with each change from now on; returns the function that stops it. */
  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
