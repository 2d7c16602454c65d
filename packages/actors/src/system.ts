import nact from 'nact';
import type { ActorRef } from './refs.js';
import { registerPolicy, toOnCrash, type SupervisionPolicy } from './supervision.js';
import { adoptSpawned, findActor, lightenPersistentActor, skipRecovery, spawnPlain, stopSystem, type NactRef } from './nact-internals.js';
import type { PersistenceEngine } from './persistence/engine.js';

/** Where an actor can be spawned: the system itself or another actor. */
export type Parent = ActorSystem | ActorRef<never>;

/** A running actor system: the root every actor of this process hangs from. */
export interface ActorSystem {
  readonly name: string;
  /** Stops every actor of the system. */
  stop(): void;
}

interface SystemImpl extends ActorSystem {
  readonly root: unknown;
}

/** Options of `startActorSystem`. */
export interface ActorSystemOptions {
  /** Unique name of the system in this process; random when absent. */
  name?: string;
  /** Journal and snapshot store for persistent actors. */
  persistence?: PersistenceEngine;
}

/** Starts an actor system. */
export function startActorSystem(options: ActorSystemOptions = {}): ActorSystem {
  const plugins: unknown[] = [];
  if (options.name !== undefined) plugins.push({ name: options.name });
  if (options.persistence) plugins.push(nact.configurePersistence(options.persistence as never));
  const root = (nact.start as (...args: unknown[]) => { name: string })(...plugins);
  const system: SystemImpl = { name: root.name, root, stop: () => stopSystem(root) };
  return system;
}

/** What an actor's handler sees besides its state and message. */
export interface ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;
  /** Full path, `system://a/b`. */
  readonly path: string;
}

/** A stateful actor: its initial state, what it does with a message, and how it reacts to failure. */
export interface ActorSpec<S, M> {
  /** Unique among its siblings; when absent, one unique in this process is made. Letters, digits and `-$_.+!*'(),`. */
  name?: string;
  /** The state the actor starts with, and returns to on restart. */
  initialState: () => S;
  /** Handles one message at a time; the next message waits for the returned promise. */
  receive(state: S, message: M, ctx: ActorContext<M>): S | Promise<S>;
  /** What happens when `receive` throws. Default `stop`. */
  supervision?: SupervisionPolicy;
}

function nactParent(parent: Parent): unknown {
  return 'root' in parent ? (parent as SystemImpl).root : parent;
}

/** An actor's context; its path is spelled out only when read (most actors never read it). */
class Context<M> implements ActorContext<M> {
  readonly self: ActorRef<M>;
  readonly name: string;

  constructor(private readonly nactCtx: { self: unknown; name: string; path: { toString(): string } }) {
    this.self = nactCtx.self as ActorRef<M>;
    this.name = nactCtx.name;
  }

  get path(): string {
    return this.nactCtx.path.toString();
  }
}

function contextOf<M>(nactCtx: { self: unknown; name: string; path: { toString(): string } }): ActorContext<M> {
  return new Context<M>(nactCtx);
}

let unnamed = 0;
/**
 * A name for an actor spawned without one. nact would draw a random 32-bit number, which two of
 * many thousand siblings (a graph's op actors) share now and then, and the spawn throws.
 */
function nameOf(name: string | undefined): string {
  return name ?? `anonymous-${(++unnamed).toString(36)}`;
}

/** Spawns an actor under `parent` and returns its typed reference. */
export function spawnActor<S, M>(parent: Parent, spec: ActorSpec<S, M>): ActorRef<M> {
  const policy = spec.supervision ?? 'stop';
  const ref = spawnPlain(nactParent(parent) as NactRef, nameOf(spec.name), spec.receive, toOnCrash(policy), spec.initialState, contextOf);
  registerPolicy(ref, policy);
  return ref as ActorRef<M>;
}

/** What a persistent actor's command handler sees: `persist` journals an event, then applies it. */
export interface PersistentContext<S, M, E> extends ActorContext<M> {
  /** The state after every event persisted so far in this message. */
  readonly state: S;
  /** Appends `event` to the journal, waits until it is on disk, then applies it to the state. */
  persist(event: E): Promise<void>;
  /**
   * Appends `event` and applies it at once, without holding the mailbox until it is on disk; the
   * promise resolves once it is. For hot paths: hold back every effect seen outside the actor
   * (a reply, a notification) until then, so nothing outside ever sees a state a crash would undo.
   */
  journal(event: E): Promise<void>;
}

/**
 * An event-sourced actor: commands decide which events to persist; `apply` folds an event into
 * the state, both live and when the journal is replayed after a restart.
 */
export interface PersistentActorSpec<S, M, E> {
  /** As for `spawnActor`. */
  name?: string;
  /** Identity of the journal: the same key after a restart replays the same events. */
  key: string;
  initialState: () => S;
  /** Handles a command; each `ctx.persist(event)` is durable before it resolves. */
  command(state: S, message: M, ctx: PersistentContext<S, M, E>): void | Promise<void>;
  /** Applies an event to the state; pure, so replay gives the state the live run had. */
  apply(state: S, event: E): S;
  /**
   * The key has journaled nothing yet (it names something just made, e.g. by a fresh id): the
   * actor starts at once, without reading its journal. Never set for a key that may have events.
   */
  fresh?: boolean;
  /** Take a snapshot every N events, so a replay reads at most N events after it. */
  snapshotEvery?: number;
  /**
   * The form events are journaled in, when it is not the event itself (a compact one for large
   * events): `stored` gives what the journal keeps, `restored` the event back from it. The live
   * state applies the event as it is; a replay applies `restored` of what was stored. `restored`
   * also takes the forms earlier versions stored.
   */
  journalForm?: JournalForm<E>;
  supervision?: SupervisionPolicy;
}

/** How a persistent actor's events are stored in its journal (see `PersistentActorSpec.journalForm`). */
export interface JournalForm<E> {
  stored(event: E): unknown;
  restored(stored: unknown): E;
}

interface NactPersistentContext {
  self: unknown;
  name: string;
  path: { toString(): string };
  recovering?: boolean;
  persist(event: unknown): Promise<void>;
}

/** What one command of a persistent actor sees: one object per message, its methods shared. */
class CommandContext<S, M, E> implements PersistentContext<S, M, E> {
  constructor(
    private readonly actor: ActorContext<M>,
    private readonly nactCtx: NactPersistentContext,
    private readonly apply: (state: S, event: E) => S,
    private readonly form: JournalForm<E> | undefined,
    private current: S,
  ) {}

  get self(): ActorRef<M> {
    return this.actor.self;
  }

  get name(): string {
    return this.actor.name;
  }

  get path(): string {
    return this.actor.path;
  }

  get state(): S {
    return this.current;
  }

  async persist(event: E): Promise<void> {
    await this.nactCtx.persist(this.form ? this.form.stored(event) : event);
    this.current = this.apply(this.current, event);
  }

  journal(event: E): Promise<void> {
    const durable = this.nactCtx.persist(this.form ? this.form.stored(event) : event);
    this.current = this.apply(this.current, event);
    return durable;
  }
}

/** Spawns an event-sourced actor; the system must have been started with `persistence`. */
export function spawnPersistentActor<S, M, E>(parent: Parent, spec: PersistentActorSpec<S, M, E>): ActorRef<M> {
  const policy = spec.supervision ?? 'stop';
  let context: ActorContext<M> | undefined;
  // Synchronous when the command is: the actor then handles its next message in the same turn.
  const handler = (state: S, input: M | E, nactCtx: NactPersistentContext): S | Promise<S> => {
    if (nactCtx.recovering) return spec.apply(state, spec.journalForm ? spec.journalForm.restored(input) : (input as E));
    const ctx = new CommandContext<S, M, E>((context ??= contextOf<M>(nactCtx)), nactCtx, spec.apply, spec.journalForm, state);
    const done = spec.command(state, input as M, ctx);
    return done === undefined ? ctx.state : done.then(() => ctx.state);
  };
  const properties: Record<string, unknown> = { initialStateFunc: spec.initialState, onCrash: toOnCrash(policy) };
  if (spec.snapshotEvery !== undefined) properties.snapshotEvery = spec.snapshotEvery;
  const name = nameOf(spec.name);
  const under = nactParent(parent);
  const ref = nact.spawnPersistent(under as never, handler as never, spec.key, name, properties as never) as unknown as NactRef;
  const actor = adoptSpawned(under as NactRef, ref, name);
  if (actor) {
    lightenPersistentActor(actor);
    if (spec.fresh) skipRecovery(actor);
  }
  registerPolicy(ref, policy);
  return ref as ActorRef<M>;
}

/** Stops an actor and its children; messages sent to it afterwards go to `deadLetters`. */
export function stopActor(ref: ActorRef<never>): void {
  const local = ref as unknown as NactRef;
  // An actor is found the way `tell` finds it (remembered while it runs); the system is nact's to stop.
  if (local.type === 'actor') findActor(local)?.stop?.();
  else nact.stop(ref as never);
}
