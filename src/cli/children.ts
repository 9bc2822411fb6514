// Child processes the CLI owns: wait for them, stop them within a bound, kill stragglers.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (hasExited(child) ? resolve() : child.once('exit', () => resolve())));
}

/** Sends `signal`, waits up to `boundMs` for the exit, then SIGKILLs. Resolves once the child is gone. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals, boundMs: number): Promise<'exited' | 'killed'> {
  if (hasExited(child)) return 'exited';
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), boundMs)));
  const outcome = await Promise.race([exited(child).then(() => 'exited' as const), late]);
  clearTimeout(timer);
  if (outcome === 'exited') return 'exited';
  child.kill('SIGKILL');
  await exited(child);
  return 'killed';
}

/** Whether `pid` is a live process (a zombie waiting for its new parent to reap it counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

/** Resolves once none of `pids` is alive, or after `boundMs`. */
export async function allGone(pids: number[], boundMs: number): Promise<boolean> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    if (!pids.some(isAlive)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}
