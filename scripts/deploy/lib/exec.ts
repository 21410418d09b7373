// Runs external tools without a shell: argv is passed as is, so nothing is re-parsed or logged by accident.
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { basename } from 'node:path';

export interface RunOptions {
  /** Text written to the tool's stdin (used for secrets such as registry passwords: never in argv). */
  input?: string;
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Working directory (defaults to the repository root given by the caller). */
  cwd?: string;
  /** Print the tool's stdout/stderr live (long operations such as apply or build). Stdout is still captured. */
  stream?: boolean;
  /** Kill the tool after this many ms. */
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  readonly command: string;
  readonly result: RunResult;
  constructor(command: string, result: RunResult) {
    const tail = (result.stderr || result.stdout).trim().split('\n').slice(-8).join('\n');
    super(`${command} exited with ${result.code}${tail ? `:\n${tail}` : ''}`);
    this.name = 'CommandError';
    this.command = command;
    this.result = result;
  }
}

/** Runs `cmd args...` and resolves with its output whatever the exit code. */
export function runRaw(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        stderr += `\n(timed out after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s)`;
        child.kill('SIGTERM');
      }, opts.timeoutMs);
    }
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (opts.stream) process.stdout.write(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (opts.stream) process.stderr.write(d);
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      resolve({ code: err.code === 'ENOENT' ? 127 : 126, stdout, stderr: `${stderr}${cmd}: ${err.message}` });
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

/** `docker buildx build`, `tofu apply`, `aws eks update-kubeconfig`: the tool and its subcommand words, no flags. */
export function commandName(cmd: string, args: readonly string[]): string {
  return [basename(cmd), ...args.filter((a) => !a.startsWith('-')).slice(0, 2)].join(' ');
}

/** Runs a tool and rejects with a CommandError unless it exits 0. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const result = await runRaw(cmd, args, opts);
  if (result.code !== 0) throw new CommandError(commandName(cmd, args), result);
  return result.stdout;
}

/** Finds an executable on PATH without running it (fast: no process is spawned). */
export function which(name: string, pathVar = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathVar.split(':')) {
    if (!dir) continue;
    const candidate = `${dir}/${name}`;
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
