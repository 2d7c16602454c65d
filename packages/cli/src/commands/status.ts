import { Command } from 'commander';
import type { OpCounts, OpInfo, RunPage, RuntimeConnection, WorkflowEvent, WorkflowInfo, WorkflowStatus } from '@lzy/runtime';
import { MAX_LIST_RUNS } from '@lzy/runtime/protocol';
import { describeMiss, describeRun, type RunStatus } from '@lzy/sdk';
import { CliError, EXIT, usageError } from '../cli-error.js';
import { duration, durationOf } from '../durations.js';
import { openTarget, withTarget, type TargetOptions } from '../target.js';
import { textTable } from '../text-table.js';
import { timingsJson, timingsText } from '../timings-view.js';

interface StatusOptions extends TargetOptions {
  json?: boolean;
  follow?: boolean;
  timings?: boolean;
  allTenants?: boolean;
  limit: string;
  skip: string;
}

/** `lzy status [WORKFLOW] [--json] [--follow] [--timings]`: the runs of your tenant, or one of them with its ops. */
export function statusCommand(): Command {
  return withTarget(
    new Command('status')
      .description("list your tenant's workflow runs, or show one with its ops")
      .argument('[workflow]', 'a run id')
      .option('--json', 'print JSON: a list of runs, or the one run asked for with its ops')
      .option('-f, --follow', 'with a run id: print its state changes until it ends (exit 1 if it fails or is cancelled)')
      .option('--timings', "with a run id: where each op's time went (queue, allocate, transfer in, run, transfer out, commit) and the run's critical path")
      .option('--all-tenants', "without a run id: list every tenant's runs, with a TENANT column (the server's admins only)")
      .option('--limit <n>', `without a run id: list the newest N runs (at most ${MAX_LIST_RUNS})`, '50')
      .option('--skip <n>', 'without a run id: leave out the newest N runs (the next page)', '0'),
  ).action((workflow: string | undefined, options: StatusOptions) => status(workflow, options));
}

async function status(workflowId: string | undefined, options: StatusOptions): Promise<void> {
  if (options.follow && workflowId === undefined) throw new CliError('--follow needs a run id', '`lzy status` lists the runs of your tenant', EXIT.usage);
  if (options.timings && workflowId === undefined) throw new CliError('--timings needs a run id', '`lzy status` lists the runs of your tenant', EXIT.usage);
  if (options.allTenants && workflowId !== undefined) throw new CliError('--all-tenants lists runs: it takes no run id', '`lzy status --all-tenants` lists every tenant\'s runs', EXIT.usage);
  const limit = Number(options.limit);
  const skip = Number(options.skip);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_RUNS) throw usageError(`bad --limit ${options.limit}`, `an integer from 1 to ${MAX_LIST_RUNS}`);
  if (!Number.isInteger(skip) || skip < 0) throw usageError(`bad --skip ${options.skip}`, 'an integer, 0 or more');
  const target = await openTarget(options);
  try {
    if (workflowId === undefined) {
      const page = options.allTenants ? await target.connection.listAllTenants(skip, limit) : await target.connection.list(skip, limit);
      // Oldest first, so that the newest run is printed last, nearest the prompt.
      const runs = page.runs.reverse();
      if (options.json) process.stdout.write(`${JSON.stringify(runs.map(runJson))}\n`);
      else process.stdout.write(runsTable(runs, skip, options.allTenants === true));
      if (page.more > 0) (options.json ? process.stderr : process.stdout).write(`${olderNote(page, skip, options.allTenants === true)}\n`);
      return;
    }
    const detail = await describeRun(target.connection, workflowId);
    if (options.timings) process.stdout.write(options.json ? `${JSON.stringify(timingsJson(detail))}\n` : timingsText(detail));
    else process.stdout.write(options.json ? `${JSON.stringify(detailJson(detail))}\n` : detailText(detail));
    if (!options.follow) return;
    const ended = await follow(target.connection, workflowId, detail.counts, options.json === true);
    if (ended !== 'finished') process.exitCode = EXIT.failure;
  } finally {
    await target.close();
  }
}

/**
 * Prints each change of the run's op counts, each op that fails, retries or misses the cache, and
 * the end (as JSON lines with `--json`); resolves with the run's final status.
 */
function follow(connection: RuntimeConnection, workflowId: string, counts: OpCounts, json: boolean): Promise<WorkflowStatus> {
  let last = countsText(counts);
  return new Promise((resolve) => {
    const stop = connection.watch(workflowId, (event) => {
      const line = json ? followJson(event) : followText(event);
      if (event.type === 'progress') {
        const text = countsText(event.counts);
        if (text === last) return;
        last = text;
      }
      if (line !== undefined) process.stdout.write(`${line}\n`);
      if (event.type === 'workflow-ended') {
        stop();
        resolve(event.status);
      }
    });
  });
}

function followText(event: WorkflowEvent): string | undefined {
  const at = new Date().toISOString();
  switch (event.type) {
    case 'progress':
      return `${at}  ${countsText(event.counts)}`;
    case 'op-failed':
      return `${at}  ${event.opName}#${event.opId.slice(0, 8)} failed (attempt ${event.attempt}, ${event.failure.code}): ${event.failure.message}`;
    case 'op-retrying':
      return `${at}  ${event.opName}#${event.opId.slice(0, 8)} attempt ${event.attempt} failed (${event.failure.code}); retrying in ${event.delayMs} ms`;
    case 'op-cache-miss':
      return `${at}  ${event.opName}#${event.opId.slice(0, 8)} not taken from the cache (${describeMiss(event.miss)})`;
    case 'workflow-ended':
      return `${at}  workflow ${event.status}${event.reason ? `: ${event.reason}` : ''}`;
    default:
      return undefined;
  }
}

function followJson(event: WorkflowEvent): string | undefined {
  if (event.type === 'op-log' || event.type === 'op-succeeded') return undefined;
  const { result: _result, ...rest } = event as WorkflowEvent & { result?: unknown };
  return JSON.stringify({ at: Date.now(), ...rest });
}

const STATES = ['waiting', 'queued', 'running', 'succeeded', 'cached', 'failed', 'cancelled'] as const;

/** Counts by the states `lzy status` shows: `succeeded` without the cached ones. */
function stateCounts(counts: OpCounts): Record<(typeof STATES)[number], number> {
  return { ...counts, succeeded: counts.succeeded - counts.cached };
}

function countsText(counts: OpCounts): string {
  const byState = stateCounts(counts);
  return STATES.map((state) => `${state} ${byState[state]}`).join(', ');
}

function runJson(run: WorkflowInfo): WorkflowInfo & { durationMs?: number } {
  const durationMs = durationOf(run.startedAt, run.endedAt);
  return durationMs === undefined ? run : { ...run, durationMs };
}

/** An op as `--json` shows it: without its timings and inputs, which `--timings --json` shows. */
function opJson({ timings: _timings, after: _after, commitMs: _commitMs, ...op }: OpInfo): Omit<OpInfo, 'timings' | 'after' | 'commitMs'> & { durationMs?: number } {
  const durationMs = durationOf(op.startedAt, op.endedAt);
  return durationMs === undefined ? op : { ...op, durationMs };
}

function detailJson(detail: RunStatus) {
  const reason = detail.reason === undefined ? {} : { reason: detail.reason };
  return { ...runJson(detail.run), ...reason, counts: stateCounts(detail.counts), ops: detail.ops.map(opJson) };
}

function detailText({ run, reason, counts, ops }: RunStatus): string {
  const lines = [
    `workflow  ${run.workflowId}`,
    `name      ${run.name}`,
    `status    ${run.status}${reason ? ` (${reason})` : ''}`,
    `started   ${time(run.startedAt)}`,
    `ended     ${time(run.endedAt)}`,
    `duration  ${duration(durationOf(run.startedAt, run.endedAt))}`,
    `ops       ${countsText(counts)}`,
  ];
  if (ops.length === 0) return `${lines.join('\n')}\n`;
  const rows = [
    ['OP', 'STATE', 'ATTEMPTS', 'STARTED', 'ENDED', 'DURATION', 'CACHE'],
    ...ops.map((op) => [
      `${op.name}#${op.opId.slice(0, 8)}`,
      op.state,
      String(op.attempts),
      time(op.startedAt),
      time(op.endedAt),
      duration(durationOf(op.startedAt, op.endedAt)),
      op.state === 'cached' ? 'hit' : op.miss ? `miss: ${describeMiss(op.miss)}` : '',
    ]),
  ];
  return `${lines.join('\n')}\n\n${textTable(rows)}`;
}

/** The runs as a table; `allTenants`: with whose each run is. */
function runsTable(runs: WorkflowInfo[], skip: number, allTenants: boolean): string {
  if (runs.length === 0) return skip === 0 ? 'no workflow runs yet\n' : `no runs past the newest ${skip}\n`;
  const rows = [
    ['WORKFLOW', 'NAME', 'STATUS', 'STARTED', 'DURATION'],
    ...runs.map((r) => [r.workflowId, r.name, r.status, time(r.startedAt), duration(durationOf(r.startedAt, r.endedAt))]),
  ];
  return textTable(allTenants ? rows.map((row, i) => [i === 0 ? 'TENANT' : (runs[i - 1]!.tenant ?? '-'), ...row]) : rows);
}

/** What a page of runs leaves out, and how to see it. */
function olderNote(page: RunPage, skip: number, allTenants: boolean): string {
  const next = `lzy status${allTenants ? ' --all-tenants' : ''} --skip ${skip + page.runs.length}`;
  return `${page.more} older run${page.more === 1 ? '' : 's'} not listed: \`${next}\` lists the next ones`;
}

function time(at: number | undefined): string {
  return at === undefined ? '-' : new Date(at).toISOString();
}
