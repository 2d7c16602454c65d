// What runs a pod's containers on a simulated node: a real process, or an in-process stand-in.
import type { JsonObject } from '../json.js';

/** A started pod's workload; the kubelet stops it when the pod is deleted. */
export interface PodAgent {
  /** Stops it within `graceMs` (then kills it); resolves once it is gone. */
  stop(graceMs: number): Promise<void>;
}

/** The pod and node a workload starts for, and how the kubelet learns it ended by itself. */
export interface PodContext {
  pod: JsonObject;
  node: JsonObject;
  /** Called when the workload ends without being asked to (a crashed process). */
  onExit(code: number | null): void;
}

/** Starts a pod's workload. */
export type PodAgentLauncher = (context: PodContext) => PodAgent;

/**
 * The light in-process stand-in for a pod's containers: it runs nothing, so thousands of pods fit
 * in one process; the pod is Running while it exists.
 */
export class LightAgent implements PodAgent {
  async stop(): Promise<void> {}
}

/** Starts a `LightAgent` for every pod. */
export const lightAgents: PodAgentLauncher = () => new LightAgent();
