/**
 * Child processes of the local stack: each one's output goes to its own log file (and optionally to the terminal),
 * its exit is observable, and stopping it is "signal, wait, then SIGKILL at the deadline".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcOptions {
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  logFile: string;
  /** Called with each complete output line (stdout and stderr), e.g. to echo it with a prefix. */
  onLine?: (line: string) => void;
}

const live = new Set<Proc>();
// Last resort when the supervisor itself exits abruptly (an uncaught error): leave nothing running.
process.once('exit', () => {
  for (const p of live) p.signal('SIGKILL');
});

export class Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly logFile: string;
  #exit: Exit | undefined;
  #log: WriteStream;
  #tail: string[] = [];
  #output = '';

  constructor(options: ProcOptions) {
    this.name = options.name;
    this.logFile = options.logFile;
    mkdirSync(dirname(options.logFile), { recursive: true });
    this.#log = createWriteStream(options.logFile, { flags: 'w' });
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops children in order.
      detached: true,
    });
    live.add(this);
    const onData = (chunk: Buffer): void => {
      this.#log.write(chunk);
      const text = chunk.toString('utf8');
      this.#output += text;
      if (this.#output.length > 4_000_000) this.#output = this.#output.slice(-2_000_000);
      const lines = text.split('\n');
      for (const line of lines) {
        if (line === '') continue;
        this.#tail.push(line);
        if (this.#tail.length > 40) this.#tail.shift();
        options.onLine?.(line);
      }
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise<Exit>((resolve) => {
      this.child.once('error', (err) => {
        this.#log.write(`spawn error: ${err.message}\n`);
        this.#tail.push(`spawn error: ${err.message}`);
        this.#exit = { code: 127, signal: null };
        resolve(this.#exit);
      });
      this.child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        this.#log.end();
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** undefined while running. */
  get exit(): Exit | undefined {
    return this.#exit;
  }

  /** Everything the process printed so far (bounded). */
  output(): string {
    return this.#output;
  }

  /** The last lines it printed, for error messages. */
  tail(lines = 15): string {
    return this.#tail.slice(-lines).join('\n');
  }

  #sent = new Set<NodeJS.Signals>();

  /** Sends `signal` unless it was sent before (a second SIGTERM means "exit now" to the function and queue-proxy). */
  signalOnce(signal: NodeJS.Signals): void {
    if (!this.#sent.has(signal)) this.signal(signal);
  }

  signal(signal: NodeJS.Signals): void {
    this.#sent.add(signal);
    if (this.#exit === undefined && this.child.pid !== undefined) {
      try {
        this.child.kill(signal);
      } catch {
        // already gone
      }
    }
  }

  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILL. Resolves with how it exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> {
    if (this.#exit) return this.#exit;
    this.signalOnce(signal);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, deadline]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.signal('SIGKILL');
      return this.exited;
    }
    return result;
  }
}

export function describeExit(exit: Exit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}
