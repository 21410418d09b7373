// Named steps: each prints its name and duration; a failure names the step and what to try next.
import { CommandError } from './exec.ts';

export class StepError extends Error {
  readonly step: string;
  readonly reason: string;
  readonly hint: string;
  constructor(step: string, reason: string, hint: string) {
    super(`step "${step}" failed: ${reason}`);
    this.name = 'StepError';
    this.step = step;
    this.reason = reason;
    this.hint = hint;
  }
}

/** A refusal before anything was changed (missing confirmation, unhealthy source env, missing tools...). */
export class Refusal extends Error {
  readonly hint: string;
  constructor(message: string, hint: string) {
    super(message);
    this.name = 'Refusal';
    this.hint = hint;
  }
}

export interface Log {
  out(line: string): void;
  err(line: string): void;
}

export const consoleLog: Log = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export class Steps {
  private readonly started = Date.now();
  private count = 0;
  private readonly log: Log;

  constructor(log: Log) {
    this.log = log;
  }

  /** Runs one step. `hint` says what to try when it fails; the error's own text says what happened. */
  async step<T>(name: string, hint: string, fn: () => Promise<T>): Promise<T> {
    this.count += 1;
    this.log.out(`==> ${this.count}. ${name}`);
    const t0 = Date.now();
    try {
      const value = await fn();
      this.log.out(`    ok: ${name} (${seconds(Date.now() - t0)})`);
      return value;
    } catch (err) {
      if (err instanceof Refusal) throw err;
      const reason =
        err instanceof StepError ? err.reason : err instanceof CommandError ? err.message : (err as Error).message;
      throw new StepError(name, reason, err instanceof StepError && err.hint ? err.hint : hint);
    }
  }

  elapsed(): string {
    return seconds(Date.now() - this.started);
  }
}

/** Prints an error the way every command reports it, and returns the process exit code. */
export function report(log: Log, err: unknown): number {
  if (err instanceof StepError) {
    log.err(`FAILED at step "${err.step}": ${err.reason}`);
    log.err(`  try: ${err.hint}`);
    return 1;
  }
  if (err instanceof Refusal) {
    log.err(`REFUSED: ${err.message}`);
    log.err(`  ${err.hint}`);
    return 2;
  }
  const e = err as Error;
  log.err(`FAILED: ${process.env.DEBUG ? (e.stack ?? String(err)) : (e.message ?? String(err))}`);
  return 1;
}
