// What the actors bench and its peer process (actors-peer.ts) agree on: message shapes, schemas,
// the msgpackr options of the bare-ws baseline, and the line the peer prints when it is ready.
import { Type } from '@sinclair/typebox';
import { Packr } from 'msgpackr';
import { tell, type ActorRef } from '@lzy/actors';

/** The payload both sides of remote-tell send, message after message. */
export interface Inc {
  type: 'inc';
  seq: number;
  data: string;
}
/** Answered once the counter has counted `n` messages in all (counts are cumulative). */
export interface Expect {
  type: 'expect';
  n: number;
}
/** The payload both sides of remote-ask send and get back. */
export interface Echo {
  type: 'echo';
  seq: number;
  data: string;
}

export type CounterMsg = Inc | (Expect & { replyTo: ActorRef<number> });
export type EchoMsg = Echo & { replyTo: ActorRef<Echo> };

/** 48 bytes of payload text: a message is ~70 bytes on the wire. */
export const DATA = 'lzy-bench-payload-0123456789abcdef-0123456789ab';

export const IncSchema = Type.Object(
  { type: Type.Literal('inc'), seq: Type.Integer({ minimum: 0 }), data: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);
export const CounterSchema = Type.Union([
  IncSchema,
  Type.Object({ type: Type.Literal('expect'), n: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
]);
export const EchoSchema = Type.Object(
  { type: Type.Literal('echo'), seq: Type.Integer({ minimum: 0 }), data: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);

/** Same options as the actors wire protocol, so both sides pay the same encoding. */
export function newPackr(): Packr {
  return new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });
}

/** Control messages of the bare-ws baseline (payloads are Inc and Echo as above). */
export interface WsExpect {
  type: 'expect';
  n: number;
}
export interface WsCounted {
  type: 'counted';
  n: number;
}

/** The one stdout line the peer prints once both its servers listen. */
export interface PeerReady {
  ready: true;
  /** Where the peer's Remoting listens. */
  remoting: string;
  /** Where the bare ws baseline server listens. */
  ws: string;
}

/** State of the counting actor: its count and the `expect` asks not yet answered. */
export interface CounterState {
  count: number;
  waiting: { n: number; replyTo: ActorRef<number> }[];
}

/** The counting actor's receive, shared by local-tell and the peer's exposed `counter`. */
export function counterReceive(state: CounterState, message: CounterMsg): CounterState {
  if (message.type === 'inc') {
    state.count++;
    if (state.waiting.length > 0) answerWaiting(state);
  } else {
    state.waiting.push({ n: message.n, replyTo: message.replyTo });
    answerWaiting(state);
  }
  return state;
}

function answerWaiting(state: CounterState): void {
  const still: CounterState['waiting'] = [];
  for (const w of state.waiting) {
    if (state.count >= w.n) tell(w.replyTo, state.count);
    else still.push(w);
  }
  state.waiting = still;
}
