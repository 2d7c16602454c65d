import { RunnerProcess, type RunnerDeath } from './runner-process.js';

/** An attempt waiting for a runner with its heap limit. */
export interface RunnerWaiter {
  readonly memoryMb: number | undefined;
  /** The runner is the waiter's until it hands it back with `release` or the runner dies. */
  start(runner: RunnerProcess): void;
}

/**
 * The runner processes of an agent: at most `slots` of them, each running one attempt at a time
 * and reused across attempts. An attempt gets an idle runner with the heap limit it asks for; one
 * is started (or an idle one with another limit replaced) when there is none; when every slot is
 * busy it waits, in order. A runner that dies while running an attempt is replaced.
 */
export class RunnerPool {
  private readonly all = new Set<RunnerProcess>();
  private readonly idle: RunnerProcess[] = [];
  private readonly waiting: RunnerWaiter[] = [];
  private closing = false;

  /** @param warn where what no attempt can be told goes: output between attempts, a runner that died idle */
  constructor(
    private readonly slots: number,
    private readonly warn: (line: string) => void,
  ) {}

  /** Starts a runner per slot, so the first attempts do not wait for processes to start. */
  warm(): void {
    while (!this.closing && this.all.size < this.slots) this.idle.push(this.spawn(undefined));
  }

  /** Gives `waiter` a runner now, or as soon as one is free. */
  acquire(waiter: RunnerWaiter): void {
    const runner = this.waiting.length === 0 ? this.take(waiter.memoryMb) : undefined;
    if (runner) waiter.start(runner);
    else this.waiting.push(waiter);
  }

  /** Forgets a waiter that no longer needs a runner. */
  withdraw(waiter: RunnerWaiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  /** Takes back a runner whose attempt finished. */
  release(runner: RunnerProcess): void {
    if (!this.all.has(runner)) return;
    this.idle.push(runner);
    this.dispatch();
  }

  /** Kills every runner; none is started again. */
  close(): void {
    this.closing = true;
    for (const runner of this.all) runner.kill();
  }

  private take(memoryMb: number | undefined): RunnerProcess | undefined {
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

  private dispatch(): void {
    while (this.waiting.length > 0) {
      const runner = this.take(this.waiting[0]!.memoryMb);
      if (!runner) return;
      this.waiting.shift()!.start(runner);
    }
  }

  private spawn(memoryMb: number | undefined): RunnerProcess {
    const runner = new RunnerProcess(memoryMb, {
      closed: (dead, death, wasBusy) => {
        if (!this.all.delete(dead)) return;
        if (!wasBusy && !this.closing) this.warn(`runner ${dead.pid ?? '(not started)'} died between attempts: ${describeDeath(death)}`);
        const at = this.idle.indexOf(dead);
        if (at >= 0) this.idle.splice(at, 1);
        // Replace a runner user code killed, so the next attempt finds one started; one that died idle
        // (e.g. at start) is replaced only when needed, so a runner that cannot start does not loop.
        if (wasBusy && !this.closing && this.waiting.length === 0) this.idle.push(this.spawn(dead.memoryMb));
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
