import { subscribe, unsubscribe, type Channel } from 'node:diagnostics_channel';

/** Listeners on diagnostics channels, all removed at once by `close`. */
export class Subscriptions {
  private readonly listeners: Array<[name: string | symbol, listener: (message: unknown) => void]> = [];

  /** Calls `handle` with each event published on `channel`. */
  on<T>(channel: Channel, handle: (event: T) => void): void {
    const listener = (message: unknown) => handle(message as T);
    subscribe(channel.name, listener);
    this.listeners.push([channel.name, listener]);
  }

  close(): void {
    for (const [name, listener] of this.listeners) unsubscribe(name, listener);
    this.listeners.length = 0;
  }
}
