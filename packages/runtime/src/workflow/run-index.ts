import type { LmdbJournal } from '@lzy/actors';
import type { Database, RootDatabase } from 'lmdb';
import type { WorkflowStatus } from '../protocol/client.js';
import type { RunPage, WorkflowInfo } from '../protocol/gateway.js';

/** A run as the registry lists it: whose it is, its name, when it started and how it stands. */
export interface RunRecord {
  readonly tenant: string;
  readonly name: string;
  readonly startedAt: number;
  status: WorkflowStatus;
  endedAt?: number;
}

/** The events the registry journaled (under this key) before it kept its runs here; read once, to carry them over. */
const REGISTRY_JOURNAL_KEY = 'workflows';
type JournaledRunEvent =
  | { type: 'started'; workflowId: string; tenant: string; name: string; startedAt: number }
  | { type: 'ended'; workflowId: string; status: WorkflowStatus; endedAt?: number };

type TenantKey = [tenant: string, startedAt: number, workflowId: string];
type StartKey = [startedAt: number, workflowId: string];

/** Longest a started run's start waits to be written with the run's first journal write (see `RunIndex.starting`). */
const UNWRITTEN_MAX_MS = 100;

/** The key in `runs.count` of the count of every tenant's runs: never a tenant's name. */
const ALL_TENANTS = '*';

/**
 * Every workflow run of every tenant, in the runtime's lmdb environment: by id, by tenant
 * newest first (a page of a tenant's runs is one range read, however many there are), of every
 * tenant newest first (what an admin lists), and the ids of the runs still active (what a restart
 * resumes). The registry holds in memory only the
 * runs that are active or just ended; everything else is read from here.
 */
export class RunIndex {
  private readonly runs: Database<RunRecord, string>;
  private readonly byTenant: Database<true, TenantKey>;
  private readonly byStart: Database<true, StartKey>;
  private readonly active: Database<true, string>;
  /** How many runs each tenant has, and every tenant (`ALL_TENANTS`): a page says how many older runs follow it without counting them. */
  private readonly counts: Database<number, string>;
  /** The counts written and not yet committed (an lmdb read sees a write only once it is). */
  private readonly countsWritten = new Map<string, number>();
  /** Likewise the runs: a listing right after a run started or ended shows it as it is now. */
  private readonly runsWritten = new Map<string, RunRecord>();
  /** Runs started and listed whose start is not written yet (see `starting`). */
  private readonly unwritten = new Map<string, RunRecord>();
  /** Writes the starts still unwritten UNWRITTEN_MAX_MS after the first of them. */
  private unwrittenTimer: NodeJS.Timeout | undefined;

  private constructor(root: RootDatabase) {
    this.runs = root.openDB<RunRecord, string>({ name: 'runs' });
    this.byTenant = root.openDB<true, TenantKey>({ name: 'runs.by-tenant' });
    this.byStart = root.openDB<true, StartKey>({ name: 'runs.by-start' });
    this.active = root.openDB<true, string>({ name: 'runs.active' });
    this.counts = root.openDB<number, string>({ name: 'runs.count' });
  }

  /** Opens the index in `root`: indexes by start the runs an earlier version indexed by tenant only, and carries over those it journaled in `journal`. */
  static async open(root: RootDatabase, journal: LmdbJournal): Promise<RunIndex> {
    const index = new RunIndex(root);
    if (index.counts.get(ALL_TENANTS) === undefined) await index.indexAllTenants(root);
    const journaled = journal.events(REGISTRY_JOURNAL_KEY);
    if (journaled.length > 0) {
      await index.carryOver(journaled.map((event) => event.data as JournaledRunEvent));
      await journal.forget(REGISTRY_JOURNAL_KEY);
    }
    return index;
  }

  /**
   * Lists a run that started, from now on. Its start is written by `started`, which the run calls
   * in the turn of its first journal write (its first ops, or its end), so that both go to the disk
   * in one transaction, not two; a run that writes nothing for UNWRITTEN_MAX_MS has it written then.
   */
  starting(workflowId: string, run: RunRecord): void {
    this.unwritten.set(workflowId, { ...run });
    this.unwrittenTimer ??= setTimeout(() => void this.writeUnwritten().catch(() => undefined), UNWRITTEN_MAX_MS).unref();
  }

  /**
   * Writes the start of a run `starting` listed, if not written yet, without waiting for it: whatever
   * of the run is acknowledged later is written after this (or with it) in the same environment,
   * whose transactions reach the disk in order. A failed write surfaces in the later ones.
   */
  started(workflowId: string): void {
    const run = this.unwritten.get(workflowId);
    if (!run) return;
    this.unwritten.delete(workflowId);
    void this.writeStart(workflowId, run).catch(() => undefined);
  }

  /** Records a run's end (as `started`, written in order with what follows it). */
  async ended(workflowId: string, run: RunRecord): Promise<void> {
    await Promise.all([putSeen(this.runs, this.runsWritten, workflowId, { ...run }), this.active.remove(workflowId)]);
  }

  get(workflowId: string): RunRecord | undefined {
    return this.runsWritten.get(workflowId) ?? this.unwritten.get(workflowId) ?? this.runs.get(workflowId);
  }

  /** Writes every start not written yet: when it is due, and before the environment closes. */
  async writeUnwritten(): Promise<void> {
    clearTimeout(this.unwrittenTimer);
    this.unwrittenTimer = undefined;
    const writes = [...this.unwritten].map(([workflowId, run]) => this.writeStart(workflowId, run));
    this.unwritten.clear();
    await Promise.all(writes);
  }

  /** The ids of the runs that had not ended, with their records. */
  *activeRuns(): Generator<[string, RunRecord]> {
    for (const workflowId of this.active.getKeys()) {
      const run = this.runs.get(workflowId);
      if (run) yield [workflowId, run];
    }
  }

  /** Every run that ended, read as it is iterated. */
  *endedRuns(): Generator<{ tenant: string; workflowId: string; endedAt: number }> {
    for (const { key, value } of this.runs.getRange()) {
      if (value.endedAt !== undefined) yield { tenant: value.tenant, workflowId: key, endedAt: value.endedAt };
    }
  }

  /** The tenant's runs newest first, from the `skip`-th on (at most `limit`), and how many older ones follow. */
  page(tenant: string, skip: number, limit: number): RunPage {
    const range = { start: [tenant, Number.MAX_SAFE_INTEGER], end: [tenant], reverse: true };
    return this.pageOf(skip, limit, {
      starting: (workflowId, run) => run.tenant === tenant && !this.byTenant.doesExist([tenant, run.startedAt, workflowId]),
      committed: (offset, count) => [...this.byTenant.getKeys({ ...range, offset, limit: count })].map(([, , workflowId]) => workflowId),
      total: this.countOf(tenant) + [...this.unwritten.values()].filter((run) => run.tenant === tenant).length,
      info: infoOf,
    });
  }

  /** Every tenant's runs newest first, each with its tenant, from the `skip`-th on (at most `limit`), and how many older ones follow. */
  pageOfAllTenants(skip: number, limit: number): RunPage {
    const range = { start: [Number.MAX_SAFE_INTEGER], reverse: true };
    return this.pageOf(skip, limit, {
      starting: (workflowId, run) => !this.byStart.doesExist([run.startedAt, workflowId]),
      committed: (offset, count) => [...this.byStart.getKeys({ ...range, offset, limit: count })].map(([, workflowId]) => workflowId),
      total: this.countOf(ALL_TENANTS) + this.unwritten.size,
      info: (workflowId, run) => ({ ...infoOf(workflowId, run), tenant: run.tenant }),
    });
  }

  /**
   * A page of runs newest first: first those whose start is not committed yet, written or not
   * (`starting` picks them: they are the newest), then those `committed` reads from an index.
   */
  private pageOf(skip: number, limit: number, from: PageSource): RunPage {
    const uncommitted = [...this.runsWritten, ...this.unwritten].filter(([workflowId, run]) => from.starting(workflowId, run)).sort(([, a], [, b]) => b.startedAt - a.startedAt);
    const runs = uncommitted.slice(skip, skip + limit).map(([workflowId, run]) => from.info(workflowId, run));
    const offset = Math.max(0, skip - uncommitted.length);
    if (runs.length < limit) {
      for (const workflowId of from.committed(offset, limit - runs.length)) {
        const run = this.get(workflowId);
        if (run) runs.push(from.info(workflowId, run));
      }
    }
    return { runs, more: Math.max(0, from.total - skip - runs.length) };
  }

  /** Indexes by start the runs an earlier version indexed by tenant only, and counts them: once, on the first open. */
  private async indexAllTenants(root: RootDatabase): Promise<void> {
    await root.transaction(() => {
      let total = 0;
      for (const [, startedAt, workflowId] of this.byTenant.getKeys()) {
        this.byStart.putSync([startedAt, workflowId], true);
        total++;
      }
      this.counts.putSync(ALL_TENANTS, total);
    });
  }

  /** The writes of a run's start, in one turn and so one transaction. */
  private async writeStart(workflowId: string, run: RunRecord): Promise<void> {
    await Promise.all([
      putSeen(this.runs, this.runsWritten, workflowId, { ...run }),
      this.byTenant.put([run.tenant, run.startedAt, workflowId], true),
      this.byStart.put([run.startedAt, workflowId], true),
      this.active.put(workflowId, true),
      putSeen(this.counts, this.countsWritten, run.tenant, this.countOf(run.tenant) + 1),
      putSeen(this.counts, this.countsWritten, ALL_TENANTS, this.countOf(ALL_TENANTS) + 1),
    ]);
  }

  private countOf(tenant: string): number {
    return this.countsWritten.get(tenant) ?? this.counts.get(tenant) ?? 0;
  }

  private async carryOver(events: Iterable<JournaledRunEvent>): Promise<void> {
    const runs = new Map<string, RunRecord>();
    for (const event of events) {
      if (event.type === 'started') {
        runs.set(event.workflowId, { tenant: event.tenant, name: event.name, startedAt: event.startedAt, status: 'active' });
        continue;
      }
      const run = runs.get(event.workflowId);
      if (!run) continue;
      run.status = event.status;
      if (event.endedAt !== undefined) run.endedAt = event.endedAt;
    }
    const writes: Array<Promise<void>> = [];
    for (const [workflowId, run] of runs) {
      writes.push(this.writeStart(workflowId, run));
      if (run.status !== 'active') writes.push(this.ended(workflowId, run));
    }
    await Promise.all(writes);
  }
}

/** Where a page of runs comes from: see `RunIndex.pageOf`. */
interface PageSource {
  starting(workflowId: string, run: RunRecord): boolean;
  /** The ids of `count` runs from the `offset`-th on, newest first, of those committed. */
  committed(offset: number, count: number): string[];
  /** How many runs there are in all. */
  readonly total: number;
  info(workflowId: string, run: RunRecord): WorkflowInfo;
}

/** Puts `value` under `key`, kept in `written` until the put commits, for the reads that must see it before then. */
function putSeen<K extends string, V>(db: Database<V, K>, written: Map<K, V>, key: K, value: V): Promise<boolean> {
  written.set(key, value);
  const put = db.put(key, value);
  const committed = () => written.get(key) === value && written.delete(key);
  put.then(committed, committed);
  return put;
}

/** A run as `list` and `info` answer it. */
export function infoOf(workflowId: string, run: RunRecord): WorkflowInfo {
  const info: WorkflowInfo = { workflowId, name: run.name, status: run.status, startedAt: run.startedAt };
  if (run.endedAt !== undefined) info.endedAt = run.endedAt;
  return info;
}
