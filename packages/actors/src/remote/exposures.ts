import type { Static, TSchema } from '@sinclair/typebox';
import type { ActorRef, QueryOf } from '../refs.js';
import { compileChecker, type Checker } from './protocol.js';

/** Who sent a message that came in over the wire. */
export interface Origin {
  /** The connection it came on: reply later with `origin.peer.ref(path)`. */
  readonly peer: { readonly name: string; ref<M>(path: string): ActorRef<M> };
  /** What the server's `authenticate` returned for this connection (its verified identity). */
  readonly principal: unknown;
}

/** An actor that remote peers may address by `path`. */
export interface Exposure {
  readonly ref: ActorRef<never>;
  readonly checker: Checker<unknown>;
  /** Builds the message the actor receives from the checked wire message. */
  readonly adapt: (message: unknown, origin: Origin) => unknown;
  /** Whether a connection with this verified identity may address the actor. */
  readonly allow: (principal: unknown) => boolean;
  /** Why a connection `allow` refuses may not address the actor, for its `FORBIDDEN` error; absent: a generic reason. */
  readonly refusal?: (principal: unknown) => string;
}

/** Options of `Remoting.expose`. */
export interface ExposeOptions<S extends TSchema, M> {
  /** Schema of the wire messages (asks without `replyTo`); a message that fails it closes the connection. */
  schema: S;
  /**
   * Turns a checked wire message into the actor's message, e.g. stamping the caller's verified identity;
   * for an ask, into the query (`replyTo` is added after).
   */
  withOrigin?: (message: Static<S>, origin: Origin) => M | QueryOf<M>;
  /**
   * Which connections may address the actor, by the identity `authenticate` gave them; others get
   * a `FORBIDDEN` error for each message and keep their connection. Default: every connection.
   */
  allow?: (principal: unknown) => boolean;
  /** Why a connection that `allow` refuses may not address the actor, said in its `FORBIDDEN` error. */
  refusal?: (principal: unknown) => string;
}

/** The actors of a system that remote peers may address, each with the schema its messages must pass. */
export class Exposures {
  private readonly byPath = new Map<string, Exposure>();

  add<S extends TSchema, M>(path: string, ref: ActorRef<M>, options: ExposeOptions<S, M>): void {
    if (this.byPath.has(path)) throw new Error(`an actor is already exposed at '${path}'`);
    const adapt = options.withOrigin ?? ((message: unknown) => message);
    this.byPath.set(path, {
      ref: ref as ActorRef<never>,
      checker: compileChecker(options.schema),
      adapt: adapt as Exposure['adapt'],
      allow: options.allow ?? (() => true),
      ...(options.refusal ? { refusal: options.refusal } : {}),
    });
  }

  remove(path: string): void {
    this.byPath.delete(path);
  }

  get(path: string): Exposure | undefined {
    return this.byPath.get(path);
  }
}
