#!/usr/bin/env node
// The node-agent process: `lzy-node-agent --server ws://HOST:PORT --token TOKEN --slots N [--pool NAME] [--heartbeat-ms MS] [--cache-dir DIR]`.
import { EXIT, runAgent } from './agent.js';
import { parseAgentArgs, USAGE, UsageError, type AgentOptions } from './args.js';

/** Exits once everything written to stderr is out. */
function exit(code: number): void {
  process.stderr.write('', () => process.exit(code));
}

let options: AgentOptions | undefined;
try {
  options = parseAgentArgs(process.argv.slice(2), process.env);
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  process.stderr.write(`lzy-node-agent: ${error.message}; ${USAGE}\n`);
  exit(EXIT.usage);
}
if (options) exit(await runAgent(options));
