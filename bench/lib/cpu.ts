// CPU time per process group, read from /proc (Linux): where a flow's CPU goes when every
// process shares this machine's cores. Elsewhere the reading is empty.
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'

const TICKS_PER_SECOND = 100 // USER_HZ: 100 on every Linux this runs on

interface Proc {
  pid: number
  ppid: number
  comm: string
  ticks: number
}

function readProcs(): Map<number, Proc> {
  const procs = new Map<number, Proc>()
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return procs
  }
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // "pid (comm) state ppid ..." where comm may hold spaces and parentheses.
      const close = stat.lastIndexOf(')')
      const comm = stat.slice(stat.indexOf('(') + 1, close)
      const fields = stat.slice(close + 2).split(' ')
      procs.set(Number(name), { pid: Number(name), ppid: Number(fields[1]), comm, ticks: Number(fields[11]) + Number(fields[12]) })
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return procs
}

function group(proc: Proc, procs: Map<number, Proc>, roots: Record<string, number>): string | null {
  for (let cur: Proc | undefined = proc; cur; cur = procs.get(cur.ppid)) {
    for (const [name, pid] of Object.entries(roots)) if (cur.pid === pid) return name
    if (cur.ppid === 0 || cur.ppid === cur.pid) break
  }
  if (proc.comm === 'postgres') return 'postgres'
  if (proc.comm.startsWith('redis-server')) return 'redis'
  // The worker publishes every event to JetStream: the broker's CPU is part of an order's.
  if (proc.comm.startsWith('nats-server')) return 'nats'
  return null
}

/**
 * Starts counting CPU for the process trees under `roots` (name -> pid), PostgreSQL, Redis
 * and NATS. The returned function answers the CPU milliseconds each group used since. Processes
 * that ended meanwhile (a PostgreSQL backend closed) are not counted.
 */
export function startCpuCount(roots: Record<string, number>): () => Record<string, number> {
  const before = readProcs()
  return () => {
    const after = readProcs()
    const used: Record<string, number> = {}
    for (const proc of after.values()) {
      const name = group(proc, after, roots)
      if (!name) continue
      const delta = proc.ticks - (before.get(proc.pid)?.ticks ?? 0)
      used[name] = (used[name] ?? 0) + (delta * 1000) / TICKS_PER_SECOND
    }
    return used
  }
}

/**
 * CPU milliseconds of this process's children that it has waited for (cutime + cstime of
 * /proc/self/stat): a load tool run as a child, once it has exited.
 */
export function reapedChildrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / TICKS_PER_SECOND
}

/**
 * "api 0.056, postgres 0.2; 0.256 in all: 2 cores sustain at most 7,812/s at this cost". The
 * ceiling is the cores' time over the CPU one request costs every process together (the load
 * generator included: it runs on the same cores). A goal above it cannot be met on this
 * machine by tuning latency; only by making requests cheaper.
 */
export const describeCpu = (ms: Record<string, number>, cores = os.availableParallelism()) => {
  const total = Object.values(ms).reduce((sum, value) => sum + value, 0)
  const readings = Object.entries(ms).map(([name, value]) => `${name} ${value}`).join(', ')
  if (total <= 0) return readings
  const ceiling = Math.floor((cores * 1000) / total).toLocaleString('en-US')
  return `${readings}; ${Number(total.toFixed(3))} in all: ${cores} cores sustain at most ${ceiling}/s at this cost`
}
