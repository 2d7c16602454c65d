import { channel } from 'node:diagnostics_channel';
import nact from 'nact';
import { ActorNotFoundError, AskTimeoutError } from './errors.js';
import { findActor, QUERY_CANNOT_RESOLVE, QUERY_TIMEOUT, type NactRef } from './nact-internals.js';

declare const messageType: unique symbol;

/**
 * A typed handle to an actor that accepts messages of type `M`: a local actor in this process or
 * one in another process (see `Remoting`). `tell` and `ask` work the same on both.
 */
export interface ActorRef<M> {
  /** Phantom field: ties the handle to its message type; never present at run time. */
  readonly [messageType]?: (message: M) => void;
}

/** A message that expects a reply carries the actor to answer in `replyTo`. */
export interface Askable<R> {
  replyTo: ActorRef<R>;
}

/** The `type`s of the messages of `M` that expect a reply (discriminated by a `type` field). */
export type AskableType<M> = M extends { type: infer T extends string; replyTo: ActorRef<never> } ? T : never;

/** What `ask` sends: an askable message without its `replyTo`, which `ask` fills in. */
export type QueryOf<M> = M extends { replyTo: ActorRef<never> }
  ? { [K in keyof M as K extends 'replyTo' ? never : K]: M[K] }
  : never;

/** The reply type of an askable message. */
export type ReplyOf<M> = M extends { replyTo: ActorRef<infer R> } ? R : never;

/** Implemented by references to actors in other processes; `tell` and `ask` hand off to it. */
export interface RemoteTarget {
  readonly remote: true;
  /** Where the actor is, for error messages: `peer/path`. */
  readonly address: string;
  tell(message: unknown): void;
  ask(query: unknown, timeoutMs: number): Promise<unknown>;
}

/** Messages sent to an actor that no longer exists are published here instead of vanishing. */
export const deadLetters = channel('lzy:actors:dead-letter');

function isRemote(ref: unknown): ref is RemoteTarget {
  return (ref as RemoteTarget).remote === true;
}

/** A readable address of any ref, for errors and logs. */
export function describeRef(ref: ActorRef<never>): string {
  if (isRemote(ref)) return ref.address;
  const local = ref as NactRef;
  if (local.type === 'temp') return `${local.system.name}/(reply-${local.id})`;
  return `${local.system.name}/${local.path?.parts.join('/') ?? ''}`;
}

/** The sender of every told message: nact would make a new one for each. */
const NO_SENDER = Object.freeze({ system: Object.freeze({ name: undefined }), path: Object.freeze({ parts: Object.freeze([]) }), type: 'nobody' });

/** Sends `message` to `ref` without waiting. A message to a stopped actor goes to `deadLetters`. */
export function tell<M>(ref: ActorRef<M>, message: M): void {
  if (isRemote(ref)) {
    ref.tell(message);
    return;
  }
  const local = ref as unknown as NactRef;
  const actor = findActor(local);
  if (actor) actor.dispatch(message, NO_SENDER);
  else if (deadLetters.hasSubscribers) deadLetters.publish({ to: describeRef(ref), message });
}

/**
 * Sends `query` (an askable message of `M` without its `replyTo`) with a fresh `replyTo` and resolves with the first reply. Rejects with
 * `AskTimeoutError` after `timeoutMs`, and with `ActorNotFoundError` if no actor is there.
 * An actor that replies with an `Error` instance makes the ask reject with it.
 */
export async function ask<M, T extends AskableType<M>>(
  ref: ActorRef<M>,
  query: { type: T } & QueryOf<Extract<M, { type: T }>>,
  timeoutMs: number,
): Promise<ReplyOf<Extract<M, { type: T }>>> {
  checkTimeout('ask', timeoutMs);
  if (isRemote(ref)) return (await ref.ask(query, timeoutMs)) as ReplyOf<Extract<M, { type: T }>>;
  return queryLocal(ref, (replyTo) => ({ ...query, replyTo }) as M, timeoutMs) as Promise<ReplyOf<Extract<M, { type: T }>>>;
}

/**
 * Like `ask`, for a message that carries its reply address somewhere else than a top-level
 * `replyTo` (e.g. a request wrapped in an envelope): `build` puts the given address in place.
 * Local actors only: a remote peer cannot address a reply ref inside a message.
 */
export async function query<M, R>(ref: ActorRef<M>, build: (replyTo: ActorRef<R>) => M, timeoutMs: number): Promise<R> {
  checkTimeout('query', timeoutMs);
  if (isRemote(ref)) throw new TypeError(`query works with local actors only; ${ref.address} is remote: use ask`);
  return queryLocal(ref, build, timeoutMs);
}

/** Node's timers hold at most 2^31 − 1 ms; a longer one would fire at once. */
function checkTimeout(what: string, timeoutMs: number): void {
  if (!(timeoutMs > 0 && timeoutMs <= 2_147_483_647)) {
    throw new RangeError(`${what} needs a timeout from 1 to 2147483647 ms, got ${timeoutMs}`);
  }
}

async function queryLocal<M, R>(ref: ActorRef<M>, build: (replyTo: ActorRef<R>) => M, timeoutMs: number): Promise<R> {
  const local = ref as unknown as NactRef;
  if (!findActor(local)) throw new ActorNotFoundError(describeRef(ref));
  let reply: unknown;
  try {
    reply = await nact.query(ref as never, build as never, timeoutMs);
  } catch (error) {
    if (error instanceof Error && error.message === QUERY_TIMEOUT) throw new AskTimeoutError(describeRef(ref), timeoutMs);
    // The actor stopped before it answered (its system may be stopping).
    if (error instanceof Error && error.message === QUERY_CANNOT_RESOLVE) throw new ActorNotFoundError(describeRef(ref));
    throw error;
  }
  // An actor fails an ask by replying with an Error; it reaches a remote asker as a RemoteError.
  if (reply instanceof Error) throw reply;
  return reply as R;
}
