/**
 * The handle of an op call's result. Nothing runs when the op is called in a workflow; awaiting
 * a `Lazy` (a barrier) submits every call made so far as one graph and waits for this one. Pass a
 * `Lazy` to another op to make a graph edge.
 */
export class Lazy<T> implements PromiseLike<T> {
  /** @internal */
  constructor(
    /** @internal The call's id in its workflow (undefined outside a workflow). */
    readonly callId: string | undefined,
    /** @internal The workflow it belongs to. */
    readonly owner: object | undefined,
    private readonly settle: () => Promise<T>,
  ) {}

  /** A Lazy for a plain local call (an op called outside a workflow): runs at once. */
  static local<T>(run: () => Promise<T>): Lazy<T> {
    const promise = run();
    promise.catch(() => {});
    return new Lazy(undefined, undefined, () => promise);
  }

  then<A = T, B = never>(
    onFulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.settle().then(onFulfilled, onRejected);
  }
}
