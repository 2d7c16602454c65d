import { channel } from 'node:diagnostics_channel';
import { findActor, PlainRef, type NactRef } from './nact-internals.js';

/** What to do with an actor whose message handler threw. */
export type Directive = 'stop' | 'restart' | 'resume' | 'escalate';

/** A failed message, as a supervision policy sees it. */
export interface Failure {
  error: unknown;
  message: unknown;
  /** Path of the actor whose handler threw. */
  actor: string;
  /** Set when the policy decides for a child that escalated: the child's name. */
  child?: string;
}

/**
 * How an actor reacts to a failure of its handler. `stop`: it stops, with its children.
 * `restart`: its state goes back to the initial state and its children stop; the mailbox goes on
 * (an actor restarted more than 10 times in 5 s is stopped instead).
 * `resume`: the failed message is dropped, the state kept. `escalate`: its parent's policy
 * decides, with `failure.child` set, what happens to it; a parent that escalates in turn fails
 * itself, and its own parent decides for it (a top-level actor that escalates stops).
 */
export type SupervisionPolicy = Directive | ((failure: Failure) => Directive | Promise<Directive>);

/** Every failure an actor's handler raised is published here with the directive applied. */
export const failures = channel('lzy:actors:failure');

/** Each persistent actor's policy, by its reference (a plain actor's reference holds its own). */
const policies = new WeakMap<NactRef, SupervisionPolicy>();

/** An actor restarted more often than this within `RESTART_WINDOW_MS` is stopped instead: its failure is not transient. */
const MAX_RESTARTS = 10;
const RESTART_WINDOW_MS = 5_000;
const restarts = new WeakMap<object, number[]>();

/** Whether another restart of `self` stays within the restart intensity; records it if so. */
function mayRestart(self: object): boolean {
  const now = Date.now();
  const recent = (restarts.get(self) ?? []).filter((at) => now - at < RESTART_WINDOW_MS);
  if (recent.length >= MAX_RESTARTS) return false;
  recent.push(now);
  restarts.set(self, recent);
  return true;
}

/** Records `policy` as the one `ref`'s actor applies to failures of its children. */
export function registerPolicy(ref: NactRef, policy: SupervisionPolicy): void {
  if (ref instanceof PlainRef) ref.policy = policy;
  else policies.set(ref, policy);
}

function policyOf(ref: NactRef): SupervisionPolicy | undefined {
  return ref instanceof PlainRef ? (ref.policy as SupervisionPolicy | undefined) : policies.get(ref);
}

interface NactSupervisionContext {
  stop: symbol;
  stopChild: symbol;
  reset: symbol;
  resetChild: symbol;
  resume: symbol;
  escalate: symbol;
  path: { toString(): string };
  parent?: NactRef;
  self: NactRef;
  name: string;
}

async function decide(policy: SupervisionPolicy, failure: Failure): Promise<Directive> {
  const directive = typeof policy === 'function' ? await policy(failure) : policy;
  if (failures.hasSubscribers) failures.publish({ ...failure, directive });
  return directive;
}

/** The parent's decision for a child that escalated; a parent without a policy (the system) stops it. */
async function parentDecides(ctx: NactSupervisionContext, failure: Failure): Promise<Directive> {
  const policy = ctx.parent && ctx.parent.type === 'actor' ? policyOf(ctx.parent) : undefined;
  return policy ? decide(policy, { ...failure, actor: ctx.parent?.path?.toString() ?? '', child: ctx.name }) : 'stop';
}

/** Adapts a policy to nact's `onCrash` hook. */
export function toOnCrash(policy: SupervisionPolicy): OnCrash {
  if (typeof policy !== 'string') return onCrashOf(policy);
  // A fixed directive's hook is the same for every actor: a graph spawns one actor per op.
  let shared = sharedHooks.get(policy);
  if (!shared) sharedHooks.set(policy, (shared = onCrashOf(policy)));
  return shared;
}

type OnCrash = (message: unknown, error: unknown, ctx: NactSupervisionContext, child?: NactRef) => Promise<symbol>;
const sharedHooks = new Map<Directive, OnCrash>();

function onCrashOf(policy: SupervisionPolicy): OnCrash {
  return async (message: unknown, error: unknown, ctx: NactSupervisionContext, child?: NactRef) => {
    const failure: Failure = { error, message, actor: ctx.path.toString() };
    // `child` is set when the escalation comes back to this actor from nact: this actor's own
    // policy already chose to escalate for that child, so now this actor itself has failed.
    let directive = child ? 'escalate' : await decide(policy, failure);
    if (directive === 'escalate') directive = await parentDecides(ctx, failure);
    // A stopped actor (its system is shutting down) stays stopped; so does one that keeps failing.
    if (directive === 'restart' && (!findActor(ctx.self) || !mayRestart(ctx.self))) directive = 'stop';
    switch (directive) {
      case 'stop':
        return ctx.stop;
      case 'restart':
        return ctx.reset;
      case 'resume':
        return child ? ctx.stopChild : ctx.resume;
      case 'escalate':
        return ctx.escalate;
    }
  };
}
