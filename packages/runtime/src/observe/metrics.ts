import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FrameCounts } from '@lzy/actors';
import type { LeaseStatus } from '../allocator/lease.js';
import type { WorkflowStatus } from '../protocol/client.js';
import {
  attemptEnded,
  authFailed,
  journalCommitted,
  leaseChanged,
  opEnded,
  workflowChanged,
  type AttemptEnded,
  type JournalCommitted,
  type LeaseChanged,
  type OpEnded,
  type WorkflowChanged,
} from './events.js';
import { Subscriptions } from './subscriptions.js';

/** Histogram buckets, in seconds: from a millisecond (tiny ops) to five minutes (allocating a cloud node). */
const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The phases of an attempt, as `lzy_op_phase_seconds` labels them, and where each is in its timings. */
const PHASES = [
  ['queue', 'queueMs'],
  ['allocate', 'allocateMs'],
  ['transfer_in', 'transferInMs'],
  ['run', 'runMs'],
  ['transfer_out', 'transferOutMs'],
] as const;

/**
 * The runtime's Prometheus metrics, in a registry of its own, fed by the runtime's state changes
 * (its diagnostics channels) and read from its gateways' frame counts at each scrape:
 * `lzy_ops_total{state}`, `lzy_op_phase_seconds{phase}`, `lzy_workflows{state}` (runs active now,
 * and runs ended since the process started, by how), `lzy_leases{pool,state}` (live leases),
 * `lzy_journal_commit_seconds`, `lzy_ws_frames_total{direction}`, `lzy_auth_failures_total`, and
 * the default process metrics.
 */
export class RuntimeMetrics {
  readonly registry = new Registry();
  private readonly ops: Counter<'state'>;
  private readonly phases: Histogram<'phase'>;
  private readonly workflows: Gauge<'state'>;
  private readonly leases: Gauge<'pool' | 'state'>;
  private readonly commits: Histogram;
  private readonly authFailures: Counter;
  /** Each live lease's pool and state, so a change moves it from one series to another. */
  private readonly leaseStates = new Map<string, { pool: string; status: LeaseStatus }>();
  private readonly subscriptions = new Subscriptions();

  constructor(gateways: readonly FrameCounts[]) {
    const registers = [this.registry];
    this.ops = new Counter({ name: 'lzy_ops_total', help: 'Ops that ended, by how: succeeded, cached, failed, cancelled', labelNames: ['state'], registers });
    this.phases = new Histogram({ name: 'lzy_op_phase_seconds', help: "Time each op attempt spent in each phase", labelNames: ['phase'], buckets: SECONDS, registers });
    this.workflows = new Gauge({ name: 'lzy_workflows', help: 'Workflow runs active now, and those ended since the process started by how they ended', labelNames: ['state'], registers });
    this.leases = new Gauge({ name: 'lzy_leases', help: 'Live node leases by pool and state', labelNames: ['pool', 'state'], registers });
    this.commits = new Histogram({ name: 'lzy_journal_commit_seconds', help: "Time a write of a graph's journal took to be durable", buckets: SECONDS, registers });
    this.authFailures = new Counter({ name: 'lzy_auth_failures_total', help: 'Credentials refused at the gateway', registers });
    const seen = { sent: 0, received: 0 };
    new Counter({
      name: 'lzy_ws_frames_total',
      help: 'ws frames the gateway sent (out) and received (in)',
      labelNames: ['direction'],
      registers,
      collect() {
        const sent = gateways.reduce((sum, frames) => sum + frames.sent, 0);
        const received = gateways.reduce((sum, frames) => sum + frames.received, 0);
        this.inc({ direction: 'out' }, sent - seen.sent);
        this.inc({ direction: 'in' }, received - seen.received);
        seen.sent = sent;
        seen.received = received;
      },
    });
    collectDefaultMetrics({ register: this.registry });
    this.subscriptions.on(attemptEnded, (event: AttemptEnded) => {
      for (const [phase, key] of PHASES) this.phases.observe({ phase }, event.timings[key] / 1000);
    });
    this.subscriptions.on(opEnded, (event: OpEnded) => this.ops.inc({ state: event.state }));
    this.subscriptions.on(workflowChanged, (event: WorkflowChanged) => this.workflowChanged(event.status));
    this.subscriptions.on(leaseChanged, (event: LeaseChanged) => this.leaseChanged(event));
    this.subscriptions.on(journalCommitted, (event: JournalCommitted) => this.commits.observe(event.ms / 1000));
    this.subscriptions.on(authFailed, () => this.authFailures.inc());
  }

  /** The metrics in Prometheus' text format. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops listening to the runtime. */
  close(): void {
    this.subscriptions.close();
  }

  private workflowChanged(status: WorkflowStatus): void {
    if (status !== 'active') this.workflows.dec({ state: 'active' });
    this.workflows.inc({ state: status });
  }

  private leaseChanged({ nodeId, pool, status }: LeaseChanged): void {
    const before = this.leaseStates.get(nodeId);
    if (before) this.leases.dec({ pool: before.pool, state: before.status });
    if (status === 'gone') {
      this.leaseStates.delete(nodeId);
      return;
    }
    this.leaseStates.set(nodeId, { pool, status });
    this.leases.inc({ pool, state: status });
  }
}
