/**
 * Cold-start phases, measured from process start (performance.timeOrigin), so a person can see where the time of a
 * scale-from-zero request went: config -> telemetry -> secrets -> listen -> first_response.
 */
import { performance } from 'node:perf_hooks';

/** Set by the start-up snapshot's main function (snapshot.ts) in a process started from dist/snapshot.blob. */
export const STARTED_FROM_SNAPSHOT = Symbol.for('knative-fn.started-from-snapshot');

/** Whether this process began from the start-up snapshot (the image does) rather than by loading the bundle. */
export function startedFromSnapshot(): boolean {
  return (globalThis as Record<symbol, unknown>)[STARTED_FROM_SNAPSHOT] === true;
}

export const PHASES = ['config', 'telemetry', 'secrets', 'listen', 'first_response'] as const;
export type Phase = (typeof PHASES)[number];

export class Startup {
  /** Milliseconds from process start to the end of each phase reached so far. */
  private readonly reached = new Map<Phase, number>();

  mark(phase: Phase, at: number = performance.now()): void {
    if (!this.reached.has(phase)) this.reached.set(phase, at);
  }

  has(phase: Phase): boolean {
    return this.reached.has(phase);
  }

  /** Seconds from process start to the end of each phase reached (for the metric). */
  milestonesSeconds(): Array<[Phase, number]> {
    return PHASES.filter((p) => this.reached.has(p)).map((p) => [p, (this.reached.get(p) ?? 0) / 1000]);
  }

  /** The duration of each phase in ms, each one starting where the previous phase ended. */
  durationsMs(): Array<[Phase, number]> {
    let previous = 0;
    const out: Array<[Phase, number]> = [];
    for (const phase of PHASES) {
      const end = this.reached.get(phase);
      if (end === undefined) continue;
      out.push([phase, Math.max(0, end - previous)]);
      previous = end;
    }
    return out;
  }

  /** A Server-Timing header value (RFC: metric;dur=ms), sent on the process's first response. */
  serverTiming(): string {
    const parts = this.durationsMs().map(([phase, ms]) => `${phase};dur=${ms.toFixed(1)}`);
    const last = this.durationsMs().reduce((sum, [, ms]) => sum + ms, 0);
    parts.push(`total;dur=${last.toFixed(1)}`);
    return parts.join(', ');
  }
}
