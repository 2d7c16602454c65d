import { Command } from 'commander';
import { formatOpLog } from '@lzy/sdk';
import { openTarget, withTarget, type TargetOptions } from '../target.js';

/** Entries asked for at once. */
const PAGE = 1000;
/** How long one read waits for new output while following. */
const WAIT_MS = 30_000;

/** `lzy logs WORKFLOW [--follow]`: the output of a run's ops, kept by the runtime. */
export function logsCommand(): Command {
  return withTarget(
    new Command('logs')
      .description("print the output of a workflow run's ops, each line prefixed with its op's name and id")
      .argument('<workflow>', 'the run id (see `lzy status`)')
      .option('-f, --follow', 'keep printing new output until the run ends'),
  ).action((workflowId: string, options: TargetOptions & { follow?: boolean }) => logs(workflowId, options));
}

async function logs(workflowId: string, options: TargetOptions & { follow?: boolean }): Promise<void> {
  const target = await openTarget(options);
  try {
    let afterSeq = 0;
    for (;;) {
      const page = await target.connection.logs(workflowId, afterSeq, PAGE, options.follow ? WAIT_MS : 0);
      for (const entry of page.entries) process.stdout.write(formatOpLog(entry));
      afterSeq = page.entries.at(-1)?.seq ?? afterSeq;
      if (page.entries.length === 0 && (!options.follow || page.status !== 'active')) return;
    }
  } finally {
    await target.close();
  }
}
