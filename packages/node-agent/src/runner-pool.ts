import { RunnerProcess, type RunnerDeath, type RunnerJob } from './runner-process.js';

/**
 * Most attempts a runner holds at once: the one running and those sent behind it. Sent together, a
 * runner reads them in one wake-up and runs them back to back, so tiny ops do not each cost a round
 * trip to the agent; 16 is where that saving levels off, and the work held on a runner stays short.
 */
export const PIPELINE_DEPTH = 16;
/** Attempts are sent behind a running one only while the mean run time is below this. */
export const SHORT_RUN_MS = 5;
/**
 * An attempt sent behind a running one waits at most about this long (ms) for it: when the running
 * one has run longer, the attempts behind it are taken back from that runner and go to the next one
 * free, so an op that hangs holds up no other.
 */
export const STALL_MS = 20;
/** Weight of the latest run time in the moving mean: about the last four count, so a long op soon stops stacking. */
const RUN_MS_WEIGHT = 0.25;

/** An attempt waiting for a runner with its heap limit. */
export interface RunnerWaiter extends RunnerJob {
  readonly memoryMb: number | undefined;
  /** It ended before a runner began it (it was cancelled): it needs no runner anymore. */
  readonly ended: boolean;
}

/**
 * The runner processes of an agent: at most `slots` of them, reused across attempts. An attempt
 * goes to an idle runner with the heap limit it asks for, the one idle the shortest time; one is
 * started (or an idle one with another limit replaced) when there is none. When every slot is busy
 * and attempts have been short (mean run time below SHORT_RUN_MS), it is sent behind the running
 * one on the busy runner with its limit that holds the fewest, up to PIPELINE_DEPTH; otherwise it
 * waits, in order. No attempt is sent behind one that has run STALL_MS or longer, and those sent
 * behind it before are taken back to wait again at the front (nothing is sent to a runner until it
 * has answered, so the order sent holds). A runner that dies while running an attempt is replaced,
 * and the attempts sent behind that one, which never began, wait again at the front.
 */
export class RunnerPool {
  private readonly all = new Set<RunnerProcess<RunnerWaiter>>();
  private readonly idle: RunnerProcess<RunnerWaiter>[] = [];
  private readonly waiting: RunnerWaiter[] = [];
  /** Moving mean of how long attempts' ops ran in their runners; unknown until one finished. */
  private meanRunMs: number | undefined;
  private closing = false;
  /** Looks for stalled runners while some runner holds attempts behind its running one (one timer for the pool). */
  private stallCheck: NodeJS.Timeout | undefined;

  /** @param warn where what no attempt can be told goes: output between attempts, a runner that died idle */
  constructor(
    private readonly slots: number,
    private readonly warn: (line: string) => void,
  ) {}

  /** Starts a runner per slot, so the first attempts do not wait for processes to start. */
  warm(): void {
    while (!this.closing && this.all.size < this.slots) this.idle.push(this.spawn(undefined));
  }

  /** Sends `waiter` to a runner now, or as soon as one can take it. */
  acquire(waiter: RunnerWaiter): void {
    const runner = this.waiting.length === 0 ? this.runnerFor(waiter.memoryMb) : undefined;
    if (runner) this.send(runner, waiter);
    else this.waiting.push(waiter);
  }

  /**
   * Forgets a waiter that no longer needs a runner. One sent behind a running attempt is asked back
   * from its runner, with the others behind it, which wait here again; a runner that begins it all
   * the same (it was busy in synchronous code) is killed by the waiter.
   */
  withdraw(waiter: RunnerWaiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at >= 0) this.waiting.splice(at, 1);
    else for (const runner of this.all) if (runner.holdsBehind(waiter)) runner.withdrawQueued();
  }

  /** Kills every runner; none is started again. */
  close(): void {
    this.closing = true;
    clearTimeout(this.stallCheck);
    for (const runner of this.all) runner.kill();
  }

  private runnerFor(memoryMb: number | undefined): RunnerProcess<RunnerWaiter> | undefined {
    return this.take(memoryMb) ?? this.leastLoaded(memoryMb);
  }

  /** An idle runner with that heap limit: one there is, a new one, or one that replaces an idle one with another limit. */
  private take(memoryMb: number | undefined): RunnerProcess<RunnerWaiter> | undefined {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      if (this.idle[i]!.memoryMb === memoryMb) return this.idle.splice(i, 1)[0];
    }
    if (this.closing) return undefined;
    if (this.all.size < this.slots) return this.spawn(memoryMb);
    const other = this.idle.shift();
    if (!other) return undefined;
    this.all.delete(other);
    other.kill();
    return this.spawn(memoryMb);
  }

  /** The busy runner with that heap limit holding the fewest attempts, while attempts are short and it has room. */
  private leastLoaded(memoryMb: number | undefined): RunnerProcess<RunnerWaiter> | undefined {
    if (this.meanRunMs === undefined || this.meanRunMs >= SHORT_RUN_MS) return undefined;
    let least: RunnerProcess<RunnerWaiter> | undefined;
    for (const runner of this.all) {
      if (runner.memoryMb !== memoryMb || !runner.accepting || runner.load >= PIPELINE_DEPTH || this.stalled(runner) || runner.givingBack) continue;
      if (!least || runner.load < least.load) least = runner;
    }
    return least;
  }

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const runner = this.runnerFor(this.waiting[0]!.memoryMb);
      if (!runner) return;
      this.send(runner, this.waiting.shift()!);
    }
  }

  private send(runner: RunnerProcess<RunnerWaiter>, waiter: RunnerWaiter): void {
    runner.run(waiter);
    if (runner.load > 1) this.stallCheck ??= setTimeout(this.takeBackFromStalled, STALL_MS).unref();
  }

  private stalled(runner: RunnerProcess<RunnerWaiter>, now = performance.now()): boolean {
    return runner.runningFor(now) >= STALL_MS;
  }

  /** Takes back the attempts sent behind running ones that have run STALL_MS; looks again later while others are behind some. */
  private readonly takeBackFromStalled = (): void => {
    this.stallCheck = undefined;
    const now = performance.now();
    let behind = false;
    for (const runner of this.all) {
      if (!runner.canWithdraw) continue;
      if (this.stalled(runner, now)) runner.withdrawQueued();
      else behind = true;
    }
    if (behind && !this.closing) this.stallCheck = setTimeout(this.takeBackFromStalled, STALL_MS).unref();
  };

  private spawn(memoryMb: number | undefined): RunnerProcess<RunnerWaiter> {
    const runner = new RunnerProcess<RunnerWaiter>(memoryMb, {
      closed: (dead, death, held) => {
        if (!this.all.delete(dead)) return;
        const wasBusy = held.length > 0;
        if (!wasBusy && !this.closing) this.warn(`runner ${dead.pid ?? '(not started)'} died between attempts: ${describeDeath(death)}`);
        const at = this.idle.indexOf(dead);
        if (at >= 0) this.idle.splice(at, 1);
        // Attempts sent behind the one it was running never began: they go first to another runner.
        this.waiting.unshift(...held.slice(1).filter((waiter) => !waiter.ended));
        // Replace a runner user code killed, so the next attempt finds one started; one that died idle
        // (e.g. at start) is replaced only when needed, so a runner that cannot start does not loop.
        if (wasBusy && !this.closing && this.waiting.length === 0) this.idle.push(this.spawn(dead.memoryMb));
        this.dispatch();
      },
      finished: (done, runMs) => {
        this.meanRunMs = this.meanRunMs === undefined ? runMs : this.meanRunMs + RUN_MS_WEIGHT * (runMs - this.meanRunMs);
        if (done.load === 0 && done.accepting) this.idle.push(done);
        this.dispatch();
      },
      withdrawn: (_runner, jobs) => {
        this.waiting.unshift(...jobs.filter((waiter) => !waiter.ended));
        this.dispatch();
      },
      stray: (source, stream, text) => this.warn(`runner ${source.pid} wrote on ${stream} between attempts: ${text.trimEnd()}`),
    });
    this.all.add(runner);
    return runner;
  }
}

function describeDeath(death: RunnerDeath): string {
  const how = death.signal ? `signal ${death.signal}` : `exit code ${death.code}`;
  const why = death.crash ? `${death.crash.name}: ${death.crash.message}` : death.lastError;
  return why ? `${how}; ${why}` : how;
}
