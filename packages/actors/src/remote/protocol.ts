import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { Packr, Unpackr } from 'msgpackr';

/**
 * Version of the wire protocol between actor systems. A frame is one ws binary message holding
 * one or more msgpack-encoded envelopes back to back (small messages queued together are batched
 * into one frame). The connecting side sends `hello` first; the accepting side answers `welcome`
 * or a fatal `error` (for a version it does not speak, a failed authentication) and closes. Once
 * open, the connecting side may renew its credential with `reauth`, answered by `reauthed`; the
 * accepting side closes a connection whose credential expired unrenewed with a fatal error.
 */
export const PROTOCOL_VERSION = 1;

/** The longest timer Node can set (2^31 − 1 ms, about 24.8 days); a longer ask timeout is capped to it. */
export const MAX_TIMEOUT_MS = 2_147_483_647;

const Name = Type.String({ minLength: 1, maxLength: 256 });
const Path = Type.String({ minLength: 1, maxLength: 1024 });
const RequestId = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
const FailureSchema = Type.Object({
  code: Type.String({ maxLength: 128 }),
  name: Type.String({ maxLength: 256 }),
  message: Type.String(),
  stack: Type.Optional(Type.String()),
});

export const Hello = Type.Object(
  {
    t: Type.Literal('hello'),
    v: Type.Integer(),
    name: Name,
    maxFrame: Type.Integer({ minimum: 1024 }),
    auth: Type.Optional(Type.String({ maxLength: 16384 })),
  },
  { additionalProperties: false },
);
export const Welcome = Type.Object(
  { t: Type.Literal('welcome'), v: Type.Integer(), name: Name, maxFrame: Type.Integer({ minimum: 1024 }) },
  { additionalProperties: false },
);
export const Tell = Type.Object({ t: Type.Literal('tell'), to: Path, msg: Type.Unknown() }, { additionalProperties: false });
export const Ask = Type.Object(
  { t: Type.Literal('ask'), id: RequestId, to: Path, msg: Type.Unknown(), ttl: Type.Integer({ minimum: 1, maximum: MAX_TIMEOUT_MS }) },
  { additionalProperties: false },
);
export const Reply = Type.Union([
  Type.Object({ t: Type.Literal('reply'), id: RequestId, ok: Type.Literal(true), value: Type.Unknown() }, { additionalProperties: false }),
  Type.Object({ t: Type.Literal('reply'), id: RequestId, ok: Type.Literal(false), error: FailureSchema }, { additionalProperties: false }),
]);
/** The connecting side's renewed credential, for the identity the connection already has. */
export const Reauth = Type.Object(
  { t: Type.Literal('reauth'), id: RequestId, auth: Type.String({ maxLength: 16384 }) },
  { additionalProperties: false },
);
/** The accepting side's answer to a `reauth`: taken, or refused (the connection keeps its former credential). */
export const Reauthed = Type.Union([
  Type.Object({ t: Type.Literal('reauthed'), id: RequestId, ok: Type.Literal(true) }, { additionalProperties: false }),
  Type.Object(
    { t: Type.Literal('reauthed'), id: RequestId, ok: Type.Literal(false), code: Type.String({ maxLength: 128 }), message: Type.String() },
    { additionalProperties: false },
  ),
]);
/** A fatal error closes the connection right after; a non-fatal one reports a dropped message. */
export const ErrorEnvelope = Type.Object(
  { t: Type.Literal('error'), code: Type.String({ maxLength: 128 }), message: Type.String(), fatal: Type.Boolean() },
  { additionalProperties: false },
);

export type Hello = Static<typeof Hello>;
export type Welcome = Static<typeof Welcome>;
export type Tell = Static<typeof Tell>;
export type Ask = Static<typeof Ask>;
export type Reply = Static<typeof Reply>;
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;
export type Reauth = Static<typeof Reauth>;
export type Reauthed = Static<typeof Reauthed>;
/** Everything that may follow the handshake. */
export type SessionEnvelope = Tell | Ask | Reply | ErrorEnvelope | Reauth | Reauthed;

/** A Map, not an object literal: a peer's `t` of `constructor` or `__proto__` must not find `Object.prototype` members. */
const sessionChecks = new Map<string, TypeCheck<TSchema>>([
  ['tell', TypeCompiler.Compile(Tell)],
  ['ask', TypeCompiler.Compile(Ask)],
  ['reply', TypeCompiler.Compile(Reply)],
  ['error', TypeCompiler.Compile(ErrorEnvelope)],
  ['reauth', TypeCompiler.Compile(Reauth)],
  ['reauthed', TypeCompiler.Compile(Reauthed)],
]);
const helloCheck = TypeCompiler.Compile(Hello);
const welcomeCheck = TypeCompiler.Compile(Welcome);

/** A compiled schema check with a readable first error. */
export interface Checker<T> {
  check(value: unknown): value is T;
  /** `path: problem` for the first violation, for error messages. */
  explain(value: unknown): string;
}

/**
 * Compiles a TypeBox schema into a checker; done once per schema, at start-up. For a union of
 * objects told apart by a literal `type`, a bad value is explained against the member its `type`
 * names, so the error points at the field that is wrong rather than at the whole union.
 */
export function compileChecker<S extends TSchema>(schema: S): Checker<Static<S>> {
  const compiled = TypeCompiler.Compile(schema);
  const members = membersByType(schema);
  return {
    check: (value): value is Static<S> => compiled.Check(value),
    explain: (value) => {
      if (!members) return explain(compiled, value);
      const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
      const member = typeof type === 'string' ? members.get(type) : undefined;
      if (member) return explain(member, value);
      return `/type: ${describeValue(type)} is not one of ${[...members.keys()].join(', ')}`;
    },
  };
}

/** The members of a union of objects with distinct literal `type`s, compiled, by type; else undefined. */
function membersByType(schema: TSchema): Map<string, TypeCheck<TSchema>> | undefined {
  const anyOf = (schema as { anyOf?: TSchema[] }).anyOf;
  if (!Array.isArray(anyOf)) return undefined;
  const members = new Map<string, TypeCheck<TSchema>>();
  for (const member of anyOf) {
    const type = (member as { properties?: { type?: { const?: unknown } } }).properties?.type?.const;
    if (typeof type !== 'string' || members.has(type)) return undefined;
    members.set(type, TypeCompiler.Compile(member));
  }
  return members;
}

/** Longest error message sent to a peer: 300 UTF-16 units (at most 900 UTF-8 bytes) fit the smallest frame a peer may announce. */
const MAX_MESSAGE_CHARS = 300;

/** Cuts an error message that quotes peer-chosen text (property names, values) to a length safe to send and log. */
export function clipMessage(message: string): string {
  return message.length <= MAX_MESSAGE_CHARS ? message : `${message.slice(0, MAX_MESSAGE_CHARS - 1)}…`;
}

/** Names an untrusted value in an error message without throwing (a BigInt, a deep nest) or quoting much of it. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? `${value}n` : String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function explain(check: TypeCheck<TSchema>, value: unknown): string {
  const first = check.Errors(value).First();
  return first ? `${first.path || '/'}: ${first.message}` : 'no error';
}

/** Checks a decoded envelope of an open session; returns it typed, or a description of what is wrong. */
export function checkSessionEnvelope(value: unknown): SessionEnvelope | string {
  const type = typeof value === 'object' && value !== null ? (value as { t?: unknown }).t : undefined;
  const check = typeof type === 'string' ? sessionChecks.get(type) : undefined;
  if (!check) return `unknown envelope type ${describeValue(type)}; expected one of ${[...sessionChecks.keys()].join(', ')}`;
  return check.Check(value) ? (value as SessionEnvelope) : `bad ${type} envelope at ${explain(check, value)}`;
}

/** Checks the first envelope a server receives. */
export function checkHello(value: unknown): Hello | string {
  return helloCheck.Check(value) ? value : `bad hello at ${explain(helloCheck, value)}`;
}

/** Checks the answer a client receives to its hello: a welcome or a fatal error. */
export function checkWelcome(value: unknown): Welcome | ErrorEnvelope | string {
  if (welcomeCheck.Check(value)) return value;
  const errorCheck = sessionChecks.get('error')!;
  if (errorCheck.Check(value)) return value as ErrorEnvelope;
  return `bad welcome at ${explain(welcomeCheck, value)}`;
}

/**
 * Objects are encoded as records: each envelope defines the keys of each shape of object it holds
 * once, inline, and its objects of that shape carry only their values. A batch of many like
 * messages (a `run` of hundreds of attempts) encodes in about half the time and decodes in a third.
 * Every envelope stands alone: no definition carries over to the next, so a peer that encodes
 * without records (whose small integers are also how records are referred to) is read as before.
 */
const options = { useRecords: true, mapsAsObjects: true, moreTypes: false, bundleStrings: false };
const packr = new Packr(options);
const unpackr = new Unpackr(options);

/** Encodes one envelope. */
export function encode(envelope: Hello | Welcome | SessionEnvelope): Buffer {
  return packr.pack(envelope);
}

/** Decodes every envelope of a frame; throws on bytes that are not a sequence of msgpack values. */
export function decodeFrame(frame: Buffer): unknown[] {
  return unpackr.unpackMultiple(frame) as unknown[];
}
