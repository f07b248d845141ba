// Child processes of the benchmark. Each runs in its own process group (so that a cluster
// primary and its workers stop together) and is killed when the harness exits, however it exits.
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'

export interface Child {
  name: string
  process: ChildProcess
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>
  alive(): boolean
  /** The last lines the child wrote (stdout and stderr), for error messages. */
  tail(): string
  /** Resolves when the child writes a line (stdout or stderr) equal to `line`; never if it does not. */
  printed(line: string): Promise<void>
  stop(): Promise<void>
}

/** The repository root: children run there (so `--import tsx` resolves). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const children = new Set<Child>()
const TAIL_LINES = 40

/** Signals the child's process group (the child and anything it forked). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, signal)
  } catch {
    // the group is gone already
  }
}

/** Keeps the last lines of a stream, whole lines only, and tells `onLine` of each. */
function lineCollector(lines: string[], onLine: (line: string) => void) {
  let partial = ''
  return (data: Buffer) => {
    const parts = (partial + data.toString()).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      if (line.trim() === '') continue
      lines.push(line)
      if (lines.length > TAIL_LINES) lines.shift()
      onLine(line)
    }
  }
}

/**
 * Node options for every process the bench starts, from BENCH_NODE_ARGS: profiling flags
 * that NODE_OPTIONS refuses, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (a cluster's
 * workers inherit them; each process writes its profile when it exits).
 */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)

/**
 * Starts `node <args>` (in the repository root) with `env` added to this process's
 * environment; `input`, when given, is written to its stdin.
 */
export function startNode(name: string, args: string[], env: Record<string, string>, input?: string): Child {
  const proc = spawn(process.execPath, [...NODE_ARGS, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    detached: true,
  })
  if (input !== undefined) proc.stdin?.end(input)
  const lines: string[] = []
  const awaited = new Map<string, () => void>()
  const onLine = (line: string) => awaited.get(line)?.()
  proc.stdout?.on('data', lineCollector(lines, onLine))
  proc.stderr?.on('data', lineCollector(lines, onLine))
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  const child: Child = {
    name,
    process: proc,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    tail: () => lines.join('\n'),
    printed: (line) => new Promise((resolve) => awaited.set(line, resolve)),
    async stop() {
      if (child.alive()) {
        killGroup(proc, 'SIGTERM')
        const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
      // Cluster workers may outlive a primary that was killed: sweep its group right away.
      killGroup(proc, 'SIGKILL')
      children.delete(child)
    },
  }
  children.add(child)
  return child
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => child.stop()))
}

/** Last resort on process exit: synchronous, so it also runs from `process.on('exit')`. */
export function killAllNow(): void {
  for (const child of children) killGroup(child.process, 'SIGKILL')
  children.clear()
}

/** A TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}
