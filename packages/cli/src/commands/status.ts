import { Command } from 'commander';
import type { WorkflowInfo } from '@lzy/runtime';
import { CliError } from '../cli-error.js';
import { openTarget, withTarget, type TargetOptions } from '../target.js';

/** `lzy status [WORKFLOW]`: the runs of your tenant, or one of them. */
export function statusCommand(): Command {
  return withTarget(
    new Command('status')
      .description("list your tenant's workflow runs, or show one")
      .argument('[workflow]', 'a run id')
      .option('--json', 'print JSON: a list of runs, or the one run asked for'),
  ).action((workflow: string | undefined, options: TargetOptions & { json?: boolean }) => status(workflow, options));
}

async function status(workflowId: string | undefined, options: TargetOptions & { json?: boolean }): Promise<void> {
  const target = await openTarget(options);
  let runs: WorkflowInfo[];
  try {
    runs = (await target.connection.list()).sort((a, b) => a.startedAt - b.startedAt);
  } finally {
    await target.close();
  }
  if (workflowId === undefined) {
    process.stdout.write(options.json ? `${JSON.stringify(runs)}\n` : table(runs));
    return;
  }
  const run = runs.find((candidate) => candidate.workflowId === workflowId);
  if (!run) throw new CliError(`no workflow ${workflowId}`, '`lzy status` lists the runs of your tenant');
  process.stdout.write(options.json ? `${JSON.stringify(run)}\n` : table([run]));
}

function table(runs: WorkflowInfo[]): string {
  if (runs.length === 0) return 'no workflow runs yet\n';
  const rows = [['WORKFLOW', 'NAME', 'STATUS', 'STARTED'], ...runs.map((r) => [r.workflowId, r.name, r.status, new Date(r.startedAt).toISOString()])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}
