/** The levels `--log-level` takes, the quietest last. */
export const AGENT_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type AgentLogLevel = (typeof AGENT_LOG_LEVELS)[number];

/** Ids a line of the agent's log carries: those it knows of the node, its tenant and the attempt. */
export type AgentLogFields = Readonly<Record<string, string | number | boolean | undefined>>;

/** What the agent says on its stderr. */
export interface AgentLog {
  /** Something went wrong that no attempt can be told of. */
  warn(line: string, fields?: AgentLogFields): void;
  /** A state change of the node. */
  info(line: string, fields: AgentLogFields): void;
  /** A step of one attempt: a line per op, so off at the default level. */
  debug(line: string, fields: AgentLogFields): void;
  /** The node's ids from now on in every line (its node id and tenant, once leased). */
  bind(fields: AgentLogFields): void;
}

/** Fields no line may show, whatever a caller logs by mistake. */
const REDACTED = ['token', 'secret', 'authorization', 'password'];

/**
 * The agent's log on stderr. With a `level` (`lzy agent` passes its `--log-level`): pino JSON lines,
 * each with the node's ids, written synchronously so that nothing is lost when the agent exits.
 * Without one (a node the runtime started, whose stderr it reads): the plain warnings only.
 */
export async function agentLog(level: AgentLogLevel | undefined): Promise<AgentLog> {
  if (level === undefined) {
    return {
      warn: (line) => void process.stderr.write(`lzy-node-agent[${process.pid}]: ${line}\n`),
      info: () => {},
      debug: () => {},
      bind: () => {},
    };
  }
  const { pino } = await import('pino');
  let logger = pino(
    { level, base: { service: 'lzy-node-agent', pid: process.pid }, redact: { paths: REDACTED, censor: '[redacted]' } },
    pino.destination({ fd: 2, sync: true }),
  );
  return {
    warn: (line, fields = {}) => logger.warn(fields, line),
    info: (line, fields) => logger.info(fields, line),
    debug: (line, fields) => logger.debug(fields, line),
    bind: (fields) => {
      logger = logger.child(fields);
    },
  };
}
