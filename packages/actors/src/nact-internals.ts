import { createRequire } from 'node:module';

/** A live actor inside nact: what a reference resolves to while the actor runs. */
export interface ConcreteActor {
  dispatch(message: unknown, sender?: unknown): void;
  /** Absent on the stand-in nact resolves a reply reference to. */
  stop?(): void;
}

/** A nact reference as it looks at run time. */
export interface NactRef {
  system: { name: string };
  path?: { parts: string[]; toString(): string };
  id?: number;
  type: string;
}

const systemMap = createRequire(import.meta.url)('nact/lib/system-map') as {
  find(systemName: string, ref: unknown): ConcreteActor | undefined;
};

/** An actor as `findActor` may remember it: stopping clears its parent and sets `stopped`. */
interface ResolvedActor extends ConcreteActor {
  parent?: unknown;
  stopped?: boolean;
}

/** The actor each reference resolved to last: nact walks the tree from the root at every message. */
const resolved = new WeakMap<NactRef, ResolvedActor>();

/**
 * Resolves a reference to its running actor, or undefined once it stopped. nact's public
 * `dispatch` drops messages to stopped actors without a word; this lets us notice. An actor found
 * once is remembered while it runs: while it runs, it is the one at its path.
 */
export function findActor(ref: NactRef): ConcreteActor | undefined {
  const known = resolved.get(ref);
  if (known && known.stopped === false && known.parent !== undefined) return known;
  const actor = systemMap.find(ref.system.name, ref) as ResolvedActor | undefined;
  if (actor && ref.type === 'actor') resolved.set(ref, actor);
  return actor;
}

/**
 * Takes in an actor nact just spawned under `parent` as `name`: `findActor` remembers it (found
 * through its parent, itself remembered) and, having no children yet, it shares the empty map of them.
 */
export function adoptSpawned(parent: NactRef, child: NactRef, name: string): ConcreteActor | undefined {
  const actor = (findActor(parent) as { children?: Map<string, ResolvedActor> } | undefined)?.children?.get(name);
  if (!actor) return undefined;
  resolved.set(child, actor);
  shareEmptyChildMaps(actor);
  return actor;
}

/** The children of every actor that has none yet: one shared map, never added to. */
class NoChildren extends Map<string, unknown> {
  override set(): this {
    throw new Error('the shared empty map of children cannot take a child');
  }
}
const NO_CHILDREN = new NoChildren();

interface ChildMaps {
  children: Map<string, unknown>;
  childReferences: Map<string, unknown>;
}

/**
 * nact gives every actor two maps of its children at birth; a graph's thousands of op actors
 * never have any. A just-spawned actor drops them for the shared empty one; its first child makes
 * real ones (see `installLazyChildMaps`).
 */
function shareEmptyChildMaps(actor: ConcreteActor): void {
  const maps = actor as unknown as ChildMaps;
  if (maps.children.size > 0) return;
  maps.children = NO_CHILDREN;
  maps.childReferences = NO_CHILDREN;
}

function installLazyChildMaps(): void {
  const { Actor } = createRequire(import.meta.url)('nact/lib/actor') as { Actor: { prototype: Record<string, unknown> } };
  Actor.prototype.childSpawned = function (this: ChildMaps, child: { name: string; reference: unknown }) {
    if (this.children === NO_CHILDREN) {
      this.children = new Map();
      this.childReferences = new Map();
    }
    this.children.set(child.name, child);
    this.childReferences.set(child.name, child.reference);
  };
}

interface NactActor {
  busy: boolean;
  stopped: boolean;
  state: unknown;
  immediate: NodeJS.Immediate | undefined;
  mailbox: { shift(): { message: unknown; sender: unknown } | undefined };
  f: (this: unknown, state: unknown, message: unknown, ctx: unknown) => unknown;
  createContext(sender: unknown): unknown;
  afterMessage(): unknown;
  processNext(): void;
  handleFault(message: unknown, sender: unknown, error: unknown): unknown;
  setTimeout(): void;
  handleMessage(message: unknown, sender: unknown): void;
}

/** Messages one actor handles in a row before it lets other work of the event loop run. */
const DRAIN_BUDGET = 256;

/**
 * nact hands every message to its actor in a separate event-loop turn (a `setImmediate` each),
 * which caps local messaging at a few hundred thousand messages a second. This drains an actor's
 * mailbox in one turn instead, up to `DRAIN_BUDGET` messages, while its handler returns
 * synchronously; a handler that returns a promise still holds the mailbox until it settles.
 * Ordering and one-message-at-a-time are unchanged.
 */
function installDrainLoop(): void {
  const { Actor } = createRequire(import.meta.url)('nact/lib/actor') as { Actor: { prototype: NactActor } };
  function drain(this: NactActor, first: unknown, firstSender: unknown): void {
    let message = first;
    let sender = firstSender;
    for (let budget = DRAIN_BUDGET; ; budget--) {
      let result: unknown;
      try {
        const ctx = this.createContext(sender);
        result = this.f.call(ctx, this.state, message, ctx);
      } catch (error) {
        this.handleFault(message, sender, error);
        return;
      }
      if (result !== null && typeof (result as PromiseLike<unknown>)?.then === 'function') {
        const failed = message;
        const failedSender = sender;
        (result as PromiseLike<unknown>).then(
          (next) => {
            this.state = next;
            this.afterMessage();
            this.processNext();
          },
          (error: unknown) => this.handleFault(failed, failedSender, error),
        );
        return;
      }
      this.state = result;
      this.afterMessage();
      if (this.stopped) return;
      const next = this.mailbox.shift();
      if (!next) {
        this.busy = false;
        this.setTimeout();
        return;
      }
      message = next.message;
      sender = next.sender;
      if (budget <= 1) {
        later(this, message, sender);
        return;
      }
    }
  }

  /**
   * Actors with a message to handle in the next turn, with that message: one `setImmediate` runs
   * them all, in the order they got it, instead of one each (a graph's op actors get one message each).
   */
  let ready: Array<{ actor: NactActor; message: unknown; sender: unknown }> = [];
  const runReady = () => {
    const batch = ready;
    ready = [];
    // A stopped actor's turn is dropped, as nact's stop clears its immediate.
    for (const { actor, message, sender } of batch) if (!actor.stopped) drain.call(actor, message, sender);
  };
  const later = (actor: NactActor, message: unknown, sender: unknown) => {
    if (ready.push({ actor, message, sender }) === 1) setImmediate(runReady);
  };
  Actor.prototype.handleMessage = function (this: NactActor, message: unknown, sender: unknown) {
    this.busy = true;
    later(this, message, sender);
  } as never;
}

interface ContextSource {
  parent?: { reference: unknown };
  path: unknown;
  reference: unknown;
  name: string;
  childReferences: Map<string, unknown>;
  log: unknown;
  persist?: (...args: unknown[]) => unknown;
  /** The actor's one context, made at its first message. */
  lightContext?: LightContext;
}

/**
 * The context nact hands an actor's handler with each message. nact builds a new one for every
 * message, with a copy of the actor's children map, so each message to an actor with n children
 * cost O(n) (a graph with thousands of op children paid O(n²)). Here an actor has one, made once;
 * the children are copied only when a handler reads them.
 */
class LightContext {
  /** An own property, as nact spreads contexts (`{ ...ctx }`) into the supervision context. */
  readonly parent: unknown;
  readonly self: unknown;
  readonly name: string;
  readonly path: unknown;
  readonly log: unknown;
  sender: unknown;
  persist?: (...args: unknown[]) => unknown;

  constructor(private readonly actor: ContextSource) {
    this.parent = actor.parent?.reference;
    this.self = actor.reference;
    this.name = actor.name;
    this.path = actor.path;
    this.log = actor.log;
    if (actor.persist) this.persist = actor.persist.bind(actor);
  }

  get children(): Map<string, unknown> {
    return new Map(this.actor.childReferences);
  }
}

function lightContext(this: ContextSource, sender: unknown): LightContext {
  const context = (this.lightContext ??= new LightContext(this));
  context.sender = sender;
  return context;
}

/** nact does not export its persistent actor class: its prototype is patched from the first instance. */
export function lightenPersistentActor(actor: ConcreteActor): void {
  const prototype = Object.getPrototypeOf(actor) as Record<string, unknown>;
  if (prototype.createContext !== lightContext) prototype.createContext = lightContext;
}

function installLightContext(): void {
  const { Actor } = createRequire(import.meta.url)('nact/lib/actor') as { Actor: { prototype: Record<string, unknown> } };
  Actor.prototype.createContext = lightContext;
}

interface StoppableActor {
  parent?: { childStopped(child: unknown): void } | undefined;
  children: Map<string, StoppableActor>;
  stopped: boolean;
  clearImmediate(): void;
  clearTimeout(): void;
  stop(): void;
}

/**
 * nact's `stop` copies the mailbox into a context and schedules a turn for an `afterStop` hook;
 * no actor of ours has one, and a graph stops one op actor per op. This stops without them.
 */
function installCheapStop(): void {
  const { Actor } = createRequire(import.meta.url)('nact/lib/actor') as { Actor: { prototype: StoppableActor } };
  Actor.prototype.stop = function (this: StoppableActor) {
    this.clearImmediate();
    this.clearTimeout();
    this.parent?.childStopped(this);
    // Not `delete`: that turns every stopped actor into a slow dictionary object.
    this.parent = undefined;
    for (const child of [...this.children.values()]) child.stop();
    this.stopped = true;
  };
}

installDrainLoop();
installLightContext();
installCheapStop();
installLazyChildMaps();
