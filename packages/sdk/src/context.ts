import { AsyncLocalStorage } from 'node:async_hooks';
import type { WorkflowRun } from './workflow-run.js';

const storage = new AsyncLocalStorage<WorkflowRun>();

/** The workflow the current code runs in, if any: plain helpers calling ops find it here. */
export function currentRun(): WorkflowRun | undefined {
  return storage.getStore();
}

/** Runs `fn` inside `run`. */
export function inRun<T>(run: WorkflowRun, fn: () => T): T {
  return storage.run(run, fn);
}
