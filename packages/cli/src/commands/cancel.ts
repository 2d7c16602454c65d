import { Command } from 'commander';
import { openTarget, withTarget, type TargetOptions } from '../target.js';

/** `lzy cancel WORKFLOW`: stops a run; its running ops are killed. */
export function cancelCommand(): Command {
  return withTarget(
    new Command('cancel')
      .description('cancel a workflow run: its running ops are killed and its client gets an error')
      .argument('<workflow>', 'the run id (see `lzy status`)')
      .option('--reason <text>', 'why, as the run reports it', 'cancelled with lzy cancel'),
  ).action((workflowId: string, options: TargetOptions & { reason: string }) => cancel(workflowId, options));
}

async function cancel(workflowId: string, options: TargetOptions & { reason: string }): Promise<void> {
  const target = await openTarget(options);
  try {
    const status = await target.connection.cancel(workflowId, options.reason);
    process.stdout.write(status === 'cancelled' ? `${workflowId} cancelled\n` : `${workflowId} had already ended: ${status}\n`);
  } finally {
    await target.close();
  }
}
