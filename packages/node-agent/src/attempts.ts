import type { AgentLog } from './agent-log.js';
import { Attempt, type AttemptContext } from './attempt.js';
import { failure } from './failures.js';
import { attemptsOf, type AgentMsg, type RunAttempt } from './protocol/agent.js';

/**
 * The attempts an agent was given, and what the runtime tells it about them: `leased`, `run`,
 * `cancel`, `shutdown`. It runs only attempts of the tenant its lease named (defence in depth: the
 * runtime's scheduler sends a node only its tenant's attempts). Once shutting down it takes no new
 * attempt and calls `drained` when the last one ended.
 */
export class Attempts {
  private readonly active = new Map<string, Attempt>();
  private readonly ctx: AttemptContext;
  private draining = false;
  /** The tenant this node serves, once its lease named it; fixed for the node's life. */
  private tenant: string | undefined;

  constructor(
    ctx: Omit<AttemptContext, 'ended'>,
    private readonly drained: () => void,
    private readonly log: AgentLog,
  ) {
    this.ctx = { ...ctx, ended: (attempt) => this.ended(attempt) };
  }

  /** Handles one message from the runtime. */
  handle(message: AgentMsg): void {
    switch (message.type) {
      case 'run': {
        const lists = message.modules.length;
        const runs = attemptsOf(message, (entry) => this.refuse(entry.attemptId, entry.opName, `names module ${entry.module} of a run message that lists ${lists}`));
        return runs.forEach((run) => this.run(run));
      }
      case 'cancel':
        return this.active.get(message.attemptId)?.cancel();
      case 'shutdown':
        return this.shutdown();
      case 'leased':
        if (this.tenant !== undefined && this.tenant !== message.tenant) return this.log.warn(`ignored a lease for tenant ${message.tenant}: this node serves ${this.tenant}`);
        if (this.tenant === undefined) {
          this.log.bind({ tenant: message.tenant, ...(message.nodeId === undefined ? {} : { nodeId: message.nodeId }) });
          this.log.info('leased', {});
        }
        this.tenant = message.tenant;
        return;
    }
  }

  /** Takes no new attempts; `drained` is called once the running ones have ended. */
  shutdown(): void {
    if (!this.draining) this.log.warn(`shutting down: taking no new attempts, waiting for ${this.active.size} running attempt(s) to finish`);
    this.draining = true;
    if (this.active.size === 0) this.drained();
  }

  /** The ids of the attempts not yet ended, for heartbeats. */
  running(): string[] {
    return [...this.active.keys()];
  }

  private run(run: RunAttempt): void {
    if (this.active.has(run.attemptId)) return this.log.warn(`ignored a second run of attempt ${run.attemptId}, which is still running`);
    if (run.tenant !== this.tenant) {
      const serves = this.tenant === undefined ? 'no tenant yet (its lease has not named one)' : `tenant ${this.tenant} only`;
      const refused = failure('WRONG_TENANT', 'WrongTenantError', `attempt ${run.attemptId} of op ${run.opName} was not started: it is tenant ${run.tenant}'s, and this node serves ${serves}`);
      return this.ctx.reporter.finish({ attemptId: run.attemptId, outcome: { ok: false, failure: refused } });
    }
    if (this.draining) {
      const refused = failure('NODE_LOST', 'NodeShuttingDownError', `attempt ${run.attemptId} of op ${run.opName} was not started: the node-agent is shutting down`);
      return this.ctx.reporter.finish({ attemptId: run.attemptId, outcome: { ok: false, failure: refused } });
    }
    const attempt = new Attempt(run, this.ctx);
    this.active.set(run.attemptId, attempt);
    this.log.debug('attempt started', { attemptId: run.attemptId, opName: run.opName });
    attempt.begin();
  }

  /** Ends an attempt the runtime's message got wrong, without running it. */
  private refuse(attemptId: string, opName: string, problem: string): void {
    const refused = failure('BAD_OP', 'BadRunMessageError', `attempt ${attemptId} of op ${opName} was not started: it ${problem}`);
    this.ctx.reporter.finish({ attemptId, outcome: { ok: false, failure: refused } });
  }

  private ended(attempt: Attempt): void {
    this.active.delete(attempt.id);
    this.log.debug('attempt ended', { attemptId: attempt.id });
    if (this.draining && this.active.size === 0) this.drained();
  }
}
