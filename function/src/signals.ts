/**
 * SIGTERM and SIGINT, handled from the process's first line (boot.ts). In the image Node is PID 1, and the kernel
 * drops a signal sent to PID 1 that has no handler: without one installed first, a pod deleted during its cold start
 * (config, telemetry, secrets: up to seconds) would run on until SIGKILL at the end of its grace period.
 * Until the server starts listening, a signal stops the process at once with exit code 0 (nothing was served,
 * nothing to drain); from then on server.ts's drain (close-with-grace) handles it.
 */
export type SignalHandler = (signal: NodeJS.Signals) => void;

export const EXIT_BEFORE_LISTENING = 0;

const handler: SignalHandler = (signal) => {
  process.stdout.write(
    `${JSON.stringify({ level: 'info', time: new Date().toISOString(), signal, msg: `${signal} during start-up: exiting before listening` })}\n`,
  );
  process.exit(EXIT_BEFORE_LISTENING);
};

const dispatch = (signal: NodeJS.Signals) => handler(signal);

/** Installs the one SIGTERM/SIGINT listener; call before anything slow. */
export function handleSignals(): void {
  process.on('SIGTERM', dispatch);
  process.on('SIGINT', dispatch);
}

/** Removes this listener: server.ts installs the drain's in the same tick. */
export function releaseSignals(): void {
  process.off('SIGTERM', dispatch);
  process.off('SIGINT', dispatch);
}
