// The results table and the results file.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Row {
  scenario: string
  target: string
  rps: number
  p50: number
  /** null where the load tool does not give one (autocannon has no p95). */
  p95: number | null
  p97_5: number | null
  p99: number
  errors: number
  /** req/s as a fraction of the baseline's req/s for the same load. */
  ratio: number | null
}

const number = (n: number) => n.toLocaleString('en-US')

export function table(rows: Row[]): string {
  const header = ['scenario', 'target', 'req/s', 'p50 ms', 'p95 ms', 'p97.5 ms', 'p99 ms', 'errors', 'vs baseline']
  const cells = rows.map((r) => [
    r.scenario,
    r.target,
    number(r.rps),
    String(r.p50),
    r.p95 === null ? '-' : String(r.p95),
    r.p97_5 === null ? '-' : String(r.p97_5),
    String(r.p99),
    number(r.errors),
    r.ratio === null ? '-' : r.ratio.toFixed(2),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  // Text columns left, numbers right.
  const line = (c: string[]) => c.map((v, i) => (i < 2 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n')
}

/** Writes `.bench/results-<timestamp>.json` under `root`; answers its path. */
export function writeResults(root: string, results: object): string {
  const dir = join(root, '.bench')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify(results, null, 2) + '\n')
  return file
}
