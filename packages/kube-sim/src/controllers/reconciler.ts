// Runs a controller's reconcile once after a burst of changes (or after changes gathered for a
// moment), never inside the store's publish (so every watcher sees the changes in resourceVersion
// order).
import type { StoreEvent, WatchHub } from '../watch-hub.js';

/** A controller driven by store changes: `reconcile` runs soon after any change `wants`. */
export class Reconciler {
  private scheduled = false;
  private stopped = false;
  private readonly unsubscribe: () => void;

  /** @param batchMs how long changes gather before a reconcile (0: the next turn of the event loop) */
  constructor(
    hub: WatchHub,
    wants: (event: StoreEvent) => boolean,
    private readonly reconcile: () => void,
    private readonly batchMs = 0,
  ) {
    this.unsubscribe = hub.subscribe((event) => {
      if (wants(event)) this.trigger();
    });
  }

  /** Asks for a reconcile soon (coalesced with other asks). */
  trigger(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      if (!this.stopped) this.reconcile();
    };
    if (this.batchMs > 0) setTimeout(run, this.batchMs).unref();
    else setImmediate(run);
  }

  /** Stops reacting to changes. */
  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }
}
