import { createRequire } from 'node:module';
import Denque from 'denque';
import type { PersistedEvent } from './persistence/engine.js';

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

const require = createRequire(import.meta.url);
const systemMap = require('nact/lib/system-map') as {
  find(systemName: string, ref: unknown): ConcreteActor | undefined;
};
/** nact's actor class, whose prototype the installs below patch (every actor's, persistent ones' too). */
const { Actor } = require('nact/lib/actor') as { Actor: { prototype: object } };
/** nact's directives, as its supervision hooks return them. */
const { SupervisionActions } = require('nact/lib/supervision') as { SupervisionActions: object };
/** The address nact gives the asker of a query: the actor's reply to it settles the query. */
const { TemporaryReference } = require('nact/lib/references') as { TemporaryReference: new (systemName: string) => object };

/** An actor as `findActor` may remember it: stopping clears its parent and sets `stopped`. */
interface ResolvedActor extends ConcreteActor {
  parent?: unknown;
  stopped?: boolean;
}

/**
 * The actor each reference resolved to last: nact walks the tree from the root at every message.
 * A plain actor's reference holds it itself (a weak map of many thousand entries slows every GC).
 */
const resolved = new WeakMap<NactRef, ResolvedActor>();

/**
 * Resolves a reference to its running actor, or undefined once it stopped. nact's public
 * `dispatch` drops messages to stopped actors without a word; this lets us notice. An actor found
 * once is remembered while it runs: while it runs, it is the one at its path.
 */
export function findActor(ref: NactRef): ConcreteActor | undefined {
  const plain = ref instanceof PlainRef;
  const known = plain ? ref.actor : resolved.get(ref);
  if (known && known.stopped === false && known.parent !== undefined) return known;
  const actor = systemMap.find(ref.system.name, ref) as ResolvedActor | undefined;
  if (actor && plain) ref.actor = actor;
  else if (actor && ref.type === 'actor') resolved.set(ref, actor);
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
 * nact gives every actor two maps of its children at birth (the actors, and their references);
 * a graph's thousands of op actors never have any. A just-spawned actor drops them for the shared
 * empty one; its first child makes a real map of the actors (see `installLazyChildMaps`). Nothing
 * of ours reads a map of the references: none is kept.
 */
function shareEmptyChildMaps(actor: ConcreteActor): void {
  const maps = actor as unknown as ChildMaps;
  if (maps.children.size > 0) return;
  maps.children = NO_CHILDREN;
  maps.childReferences = NO_CHILDREN;
}

function installLazyChildMaps(): void {
  (Actor.prototype as Record<string, unknown>).childSpawned = function (this: ChildMaps, child: { name: string; reference: unknown }) {
    if (this.children === NO_CHILDREN) this.children = new Map();
    this.children.set(child.name, child);
  };
}

/** A concrete nact actor (or the system) that a plain actor is spawned under. */
interface SpawnParent {
  /** nact's system: asks from the actor register their reply references there. */
  readonly system: object;
  readonly path: { createChildPath(name: string): unknown };
  readonly reference: NactRef;
  readonly children: Map<string, unknown>;
  childSpawned(child: unknown): void;
}

/** nact's test of an actor name (letters, digits and `-$_.+!*'(),`). */
const VALID_NAME = /^[a-z0-9-$_.+!*'(),]+$/i;

/**
 * A reference to a plain actor: nact's, with the actor's path spelled out when first read (a
 * graph's op actors are only ever told, through their remembered actor).
 */
export class PlainRef {
  readonly type = 'actor';
  /** The actor it resolved to last (see `findActor`). */
  actor: ResolvedActor | undefined = undefined;
  /** What its actor does when a child escalates a failure (see `registerPolicy`). */
  policy: unknown = undefined;
  private spelled: { parts: string[]; toString(): string } | undefined;

  constructor(
    readonly system: { name: string },
    readonly parent: NactRef,
    readonly name: string,
    private readonly parentPath: SpawnParent['path'],
  ) {}

  get path(): { parts: string[]; toString(): string } {
    return (this.spelled ??= this.parentPath.createChildPath(this.name) as { parts: string[]; toString(): string });
  }
}

/** The mailbox of every plain actor that never had to queue a message: never pushed to. */
const NO_MAIL = new Denque<never>();

/**
 * A plain actor: a nact `Actor` (its prototype chain, hence nact's supervision, stop, ask and tree
 * walk) built without what an actor pays for at birth and may never use: its path is spelled out,
 * and its mailbox made, on first need; it shares the empty children map (see
 * `shareEmptyChildMaps`); it has no idle timeout to clear at every message.
 */
class PlainActor {
  stopped = false;
  children: Map<string, unknown> = NO_CHILDREN;
  childReferences: Map<string, unknown> = NO_CHILDREN;
  busy = false;
  mailbox: Denque<unknown> = NO_MAIL;
  immediate: NodeJS.Immediate | undefined = undefined;
  state: unknown = undefined;
  /** The context its handler gets with every message, made at the first. */
  private context: unknown = undefined;
  declare handleMessage: (message: unknown, sender: unknown) => void;
  declare handleFault: (message: unknown, sender: unknown, error: unknown) => void;

  constructor(
    public parent: SpawnParent | undefined,
    readonly name: string,
    readonly system: SpawnParent['system'],
    readonly reference: PlainRef,
    /** The handler, called as nact calls it: `(state, message, context)`. */
    readonly f: unknown,
    readonly onCrash: unknown,
    readonly initialStateFunc: () => unknown,
    private readonly makeContext: (actor: PlainActor) => unknown,
  ) {}

  get self(): PlainRef {
    return this.reference;
  }

  get path(): unknown {
    return this.reference.path;
  }

  initializeState(): void {
    try {
      this.state = this.initialStateFunc();
    } catch (error) {
      this.handleFault(undefined, undefined, error);
    }
  }

  createContext(): unknown {
    return (this.context ??= this.makeContext(this));
  }

  setTimeout(): void {}

  clearTimeout(): void {}

  dispatch(message: unknown, sender: unknown): void {
    if (this.stopped) throw new Error('the actor has stopped');
    if (!this.busy) this.handleMessage(message, sender);
    else (this.mailbox === NO_MAIL ? (this.mailbox = new Denque()) : this.mailbox).push({ message, sender });
  }
}

Object.setPrototypeOf(PlainActor.prototype, Actor.prototype);

/** What a plain actor's context is made from: its reference, name and (spelled out when read) path. */
export interface ContextSourceOfPlain {
  readonly self: unknown;
  readonly name: string;
  readonly path: { toString(): string };
}

/**
 * Spawns a plain (not persistent) actor under `parentRef` as `name`, the way nact's `spawn` does
 * (same checks), and remembers it for `findActor`. `handler(state, message, context)` handles each
 * message, with the context `makeContext` made once; `onCrash` is nact's supervision hook;
 * `initialState` makes the state, at birth and at each restart.
 */
export function spawnPlain(
  parentRef: NactRef,
  name: string,
  handler: (state: never, message: never, context: never) => unknown,
  onCrash: unknown,
  initialState: () => unknown,
  makeContext: (source: ContextSourceOfPlain) => unknown,
): NactRef {
  const parent = findActor(parentRef) as unknown as SpawnParent | undefined;
  if (!parent) throw new Error(`cannot spawn ${name}: its parent has stopped or never existed`);
  if (!VALID_NAME.test(name)) throw new Error(`invalid actor name ${JSON.stringify(name)}: use letters, digits and -$_.+!*'(),`);
  if (parent.children.has(name)) throw new Error(`child actor of name ${name} already exists`);
  const reference = new PlainRef(parentRef.system, parent.reference, name, parent.path);
  const actor = new PlainActor(parent, name, parent.system, reference, handler, onCrash, initialState, makeContext as (actor: PlainActor) => unknown);
  parent.childSpawned(actor);
  reference.actor = actor as unknown as ResolvedActor;
  actor.initializeState();
  return reference as unknown as NactRef;
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
  (Actor.prototype as NactActor).handleMessage = function (this: NactActor, message: unknown, sender: unknown) {
    this.busy = true;
    later(this, message, sender);
  } as never;
}

interface ContextSource {
  parent?: { reference: unknown };
  path: unknown;
  reference: unknown;
  name: string;
  log: unknown;
  persist?: (...args: unknown[]) => unknown;
  /** The actor's one context, made at its first message. */
  lightContext?: LightContext;
}

/**
 * The context nact hands a persistent actor's handler with each message. nact builds a new one for
 * every message, with a copy of the actor's children map, so each message to an actor with n
 * children cost O(n) (a graph with thousands of op children paid O(n²)). Here an actor has one,
 * made once, without the children: no handler of ours reads them.
 */
class LightContext {
  /** An own property, as nact spreads contexts (`{ ...ctx }`) into the supervision context. */
  readonly parent: unknown;
  readonly self: unknown;
  readonly name: string;
  readonly log: unknown;
  sender: unknown;
  persist?: (...args: unknown[]) => unknown;

  constructor(private readonly actor: ContextSource) {
    this.parent = actor.parent?.reference;
    this.self = actor.reference;
    this.name = actor.name;
    this.log = actor.log;
    if (actor.persist) this.persist = actor.persist.bind(actor);
  }

  /** Read when needed: a plain actor's path is spelled out on first read. */
  get path(): unknown {
    return this.actor.path;
  }
}

function lightContext(this: ContextSource, sender: unknown): LightContext {
  const context = (this.lightContext ??= new LightContext(this));
  context.sender = sender;
  return context;
}

/** What nact's persistent actor keeps to journal an event. */
interface JournalingActor {
  key: string;
  sequenceNumber: number;
  messagesToNextSnapshot: number;
  encoder(event: unknown): unknown;
  persistenceEngine: { persist(event: PersistedEvent): Promise<void> };
}

/**
 * nact's `persist`, without the async function around the engine's promise (a promise and a
 * microtask more for every event journaled): the event goes to the engine in this turn, numbered
 * as nact numbers it, and the engine's promise is the caller's.
 */
function persistEvent(this: JournalingActor, event: unknown, tags: string[] = []): Promise<void> {
  --this.messagesToNextSnapshot;
  try {
    return this.persistenceEngine.persist({ data: this.encoder(event), sequenceNumber: ++this.sequenceNumber, key: this.key, tags, createdAt: Date.now(), isDeleted: false });
  } catch (error) {
    return Promise.reject(error);
  }
}

/** nact does not export its persistent actor class: its prototype is patched from the first instance. */
export function lightenPersistentActor(actor: ConcreteActor): void {
  const prototype = Object.getPrototypeOf(actor) as Record<string, unknown>;
  if (prototype.createContext !== lightContext) prototype.createContext = lightContext;
  if (prototype.persist !== persistEvent) prototype.persist = persistEvent;
}

/** What nact's persistent actor sets up for its recovery, and reads once it is over. */
interface RecoveringActor {
  immediate: NodeJS.Immediate | undefined;
  snapshotEvery: number;
  messagesToNextSnapshot: number;
  clearImmediate(): void;
  clearTimeout(): void;
  processNext(): void;
}

/**
 * A persistent actor whose key has journaled nothing yet starts at once: nact would read its
 * snapshot and its events first, in a later turn and through a chain of promises, to find none.
 */
export function skipRecovery(actor: ConcreteActor): void {
  const recovering = actor as unknown as RecoveringActor;
  recovering.clearImmediate();
  recovering.immediate = undefined;
  recovering.clearTimeout();
  recovering.messagesToNextSnapshot = recovering.snapshotEvery;
  recovering.processNext();
}

function installLightContext(): void {
  const prototype = Actor.prototype as Record<string, unknown>;
  prototype.createContext = lightContext;
  // What supervision reads, for every actor (nact spread the message context, which a plain
  // actor's is not, and whose path is a getter a spread drops).
  prototype.createSupervisionContext = function (this: ContextSource & { mailbox: { toArray(): unknown[] } }) {
    return { parent: this.parent?.reference, self: this.reference, name: this.name, path: this.path, mailbox: this.mailbox.toArray(), ...SupervisionActions };
  };
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
  (Actor.prototype as StoppableActor).stop = function (this: StoppableActor) {
    this.clearImmediate();
    this.clearTimeout();
    this.parent?.childStopped(this);
    // Not `delete`: that turns every stopped actor into a slow dictionary object.
    this.parent = undefined;
    for (const child of [...this.children.values()]) child.stop();
    this.stopped = true;
    endQueries(this);
  };
}

/**
 * Stops an actor system and every actor in it. nact's own system stop looks its top-level actors
 * up by reference, finds none (it passes the actors themselves), and leaves them all running.
 */
export function stopSystem(root: { name: string }): void {
  const system = systemMap.find(root.name, undefined) as { children: Map<string, StoppableActor>; stop(): void } | undefined;
  if (!system) return;
  systemStopping = true;
  try {
    for (const actor of [...system.children.values()]) actor.stop();
  } finally {
    systemStopping = false;
  }
  system.stop();
}

/** nact's message when a query's actor is gone: `ask` turns it into an `ActorNotFoundError`. */
export const QUERY_CANNOT_RESOLVE = 'Actor stopped or never existed. Query can never resolve';
/** nact's message when a query's time is up: `ask` turns it into an `AskTimeoutError`. */
export const QUERY_TIMEOUT = 'Query Timeout';

interface QueriedActor {
  system: { name: string; addTempReference(ref: object, settler: { resolve(reply: unknown): void }): void; removeTempReference(ref: object): void };
  assertNotStopped(): void;
  dispatch(message: unknown, sender: unknown): void;
}

/** A query an actor has yet to answer: its timer, and how to fail it. */
interface OpenQuery {
  readonly timer: NodeJS.Timeout;
  fail(error: Error): void;
}

/** The queries each actor has yet to answer. */
const openQueries = new WeakMap<object, Set<OpenQuery>>();

/** Whether the actors stopping now are stopping with their whole system (see `stopSystem`). */
let systemStopping = false;

/**
 * The actor stopped without answering its queries. Alone, it fails them at once (the asker hears
 * `ActorNotFoundError`). With its whole system, their timers are released instead: they no longer
 * keep the process alive, and no asker goes on to act while its runtime shuts down.
 */
function endQueries(actor: object): void {
  const queries = openQueries.get(actor);
  if (!queries) return;
  openQueries.delete(actor);
  for (const query of queries) {
    if (systemStopping) query.timer.unref();
    else query.fail(new Error(QUERY_CANNOT_RESOLVE));
  }
}

/**
 * nact's query leaves its timer running when the actor stops without answering, and the timer
 * kept a closed runtime's process alive for minutes. Here a query ends on its answer, on its
 * timeout, or when its actor stops (see `endQueries`), and every way clears or releases its timer.
 */
function installReleasedQueries(): void {
  (Actor.prototype as { query(this: QueriedActor, message: unknown, timeoutMs: number): Promise<unknown> }).query = function (message, timeoutMs) {
    this.assertNotStopped();
    const { system } = this;
    return new Promise((resolve, reject) => {
      const replyTo = new TemporaryReference(system.name);
      let queries = openQueries.get(this);
      if (!queries) openQueries.set(this, (queries = new Set()));
      const end = () => {
        clearTimeout(open.timer);
        system.removeTempReference(replyTo);
        openQueries.get(this)?.delete(open);
      };
      const fail = (error: Error) => {
        end();
        reject(error);
      };
      const open: OpenQuery = { timer: setTimeout(() => fail(new Error(QUERY_TIMEOUT)), timeoutMs), fail };
      queries.add(open);
      system.addTempReference(replyTo, {
        resolve: (reply: unknown) => {
          end();
          resolve(reply);
        },
      });
      this.dispatch(typeof message === 'function' ? (message as (replyTo: object) => unknown)(replyTo) : message, replyTo);
    });
  };
}

installDrainLoop();
installLightContext();
installCheapStop();
installLazyChildMaps();
installReleasedQueries();
