import type { Level, Logger } from 'pino';
import { agentOutput, type AgentOutput } from '../allocator/local-backend.js';
import {
  attemptEnded,
  authFailed,
  leaseChanged,
  opEnded,
  workflowChanged,
  type AttemptEnded,
  type AuthFailed,
  type LeaseChanged,
  type OpEnded,
  type WorkflowChanged,
} from './events.js';
import { Subscriptions } from './subscriptions.js';

/**
 * The runtime's structured log: one line per state change, with the ids it concerns (tenant,
 * workflow, op, attempt, node). Runs starting and ending and leases moving are `info`; each op and
 * attempt that succeeds is `debug`, one that fails `warn`; a refused credential is `warn`, with
 * the reason, which never quotes it. Lines carry ids and figures only: never a credential or a value.
 * The lines of the node-agents the runtime started are relayed too, each with its node's id.
 */
export class StateLog {
  private readonly subscriptions = new Subscriptions();

  constructor(private readonly logger: Logger) {
    this.subscriptions.on(workflowChanged, ({ tenant, workflowId, name, status, resumed, reason }: WorkflowChanged) =>
      logger.info({ event: 'workflow', tenant, workflowId, name, status, ...(resumed ? { resumed } : {}), ...(reason === undefined ? {} : { reason }) }, `workflow ${name} ${resumed ? 'resumed' : status}`),
    );
    this.subscriptions.on(leaseChanged, ({ tenant, pool, nodeId, status, reason }: LeaseChanged) =>
      logger.info({ event: 'lease', tenant, pool, nodeId, status, ...(reason === undefined ? {} : { reason }) }, `node ${nodeId} of pool ${pool} ${status}`),
    );
    this.subscriptions.on(attemptEnded, ({ tenant, workflowId, opId, opName, attemptId, code, timings }: AttemptEnded) => {
      const { attempt, nodeId, ok, ...phases } = timings;
      const fields = { event: 'attempt', tenant, workflowId, opId, opName, attemptId, attempt, ...(nodeId === undefined ? {} : { nodeId }), ok, ...phases };
      if (ok) logger.debug(fields, `attempt ${attempt} of op ${opName} succeeded`);
      else logger.warn({ ...fields, code }, `attempt ${attempt} of op ${opName} failed (${code})`);
    });
    this.subscriptions.on(opEnded, ({ tenant, workflowId, opId, opName, state, attempts, commitMs }: OpEnded) => {
      const fields = { event: 'op', tenant, workflowId, opId, opName, state, attempts, ...(commitMs === undefined ? {} : { commitMs }) };
      if (state === 'failed') logger.warn(fields, `op ${opName} failed`);
      else logger.debug(fields, `op ${opName} ${state}`);
    });
    this.subscriptions.on(authFailed, ({ reason }: AuthFailed) => logger.warn({ event: 'auth-failed', reason }, `a credential was refused: ${reason}`));
    this.subscriptions.on(agentOutput, ({ nodeId, line }: AgentOutput) => relayAgentLine(logger, nodeId, line));
  }

  /** Stops logging the runtime's state changes. */
  close(): void {
    this.subscriptions.close();
  }
}

/**
 * One line of a node-agent the runtime started, as a line of the runtime's log: a JSON line at its
 * own level, with its fields, its node's id and its process id (`agentPid`); any other line (a
 * crash's trace) as a warning with that line as its text.
 */
function relayAgentLine(logger: Logger, nodeId: string, line: string): void {
  const logged = jsonLogLine(line);
  if (logged === undefined) {
    logger.warn({ event: 'node-agent', nodeId }, line);
    return;
  }
  // The agent's time, service and pid would clash with the runtime's own fields.
  const { level, msg, time: _time, service: _service, pid, hostname: _hostname, ...fields } = logged;
  const label = (logger.levels.labels[level] ?? 'info') as Level;
  logger[label]({ ...fields, event: 'node-agent', nodeId, ...(pid === undefined ? {} : { agentPid: pid }) }, msg);
}

/** A pino JSON line's fields; `undefined` for any other line. */
function jsonLogLine(line: string): ({ level: number; msg: string } & Record<string, unknown>) | undefined {
  if (!line.startsWith('{')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  const fields = value as { level?: unknown; msg?: unknown } | null;
  return typeof fields?.level === 'number' && typeof fields.msg === 'string' ? (fields as { level: number; msg: string } & Record<string, unknown>) : undefined;
}
