// What a benchmark scenario is. Load scenarios describe a load-tool run (wrk or autocannon) against the API
// (and, for comparison, the same run against the bare baseline); task scenarios time
// something else (the seed) and run only when named.
import type { Sql } from '../../src/platform/db/index.ts'

/**
 * Load options, JSON-safe (the load generator runs in its own process): no functions.
 * `url` is filled in per target.
 */
export interface LoadOptions {
  connections?: number
  duration?: number
  timeout?: number
  pipelining?: number
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD'
  headers?: Record<string, string>
  body?: string
  /** One path for every request. */
  path?: string
  /** Requests walk these paths, shuffled, each connection (or wrk thread) from its own place in the list. */
  paths?: string[]
  /**
   * Requests per second, arriving on schedule whatever the answers (an open loop,
   * bench/open-loop.ts), latency counted from each request's due time. Without it the load
   * tool runs a closed loop: `connections` requests in flight at all times.
   */
  rate?: number
}

export interface LoadContext {
  /** Base URL of the API under test, e.g. http://127.0.0.1:41234. */
  api: string
  /** The bench database (already migrated and seeded). */
  sql: Sql
  connections: number
  /** Measured seconds (after the warm-up). */
  duration: number
  log(message: string): void
}

export interface LoadScenario {
  kind: 'load'
  name: string
  description: string
  /** Runs only when named on the command line. */
  explicitOnly?: boolean
  /**
   * API processes this scenario runs with unless BENCH_API_WORKERS says otherwise (default:
   * one per core). One where PostgreSQL, the simulator and the worker need the cores more
   * than a second API process does (measured per scenario; see the README).
   */
  apiProcesses?: number
  /** Gets the API ready (warm caches, create data) and answers the load to apply. */
  prepare(ctx: LoadContext): Promise<LoadOptions>
}

export interface TaskContext {
  /** DATABASE_URL: the server on which a scenario may create its own databases. */
  serverUrl: string
  log(message: string): void
  /** Registers a step for the harness's cleanup (also on Ctrl-C), e.g. dropping a database. */
  atCleanup(step: () => Promise<void>): void
}

export interface TaskReport {
  /** Lines to print under the scenario's name. */
  lines: string[]
  /** What goes into the results file. */
  data: Record<string, unknown>
}

export interface TaskScenario {
  kind: 'task'
  name: string
  description: string
  explicitOnly: true
  run(ctx: TaskContext): Promise<TaskReport>
}

export type Scenario = LoadScenario | TaskScenario | FlowScenario

/**
 * A flow: each virtual user runs a sequence of dependent requests (new cart -> add ->
 * checkout) that a static load tool cannot express. Run by the harness against the API only
 * (the baseline answers fixed JSON, so a ratio would mean nothing).
 */
export interface FlowScenario {
  kind: 'flow'
  name: string
  description: string
  explicitOnly?: boolean
  /**
   * API processes this scenario runs with unless BENCH_API_WORKERS says otherwise (default:
   * one per core). One where PostgreSQL, the simulator and the worker need the cores more
   * than a second API process does (measured per scenario; see the README).
   */
  apiProcesses?: number
  run(ctx: LoadContext & { warmup: number; countCpu: CpuCounter }): Promise<FlowReport>
}

/** Starts counting CPU of the api, the load generator, PostgreSQL and Redis: stop() answers ms per group. */
export type CpuCounter = () => () => Record<string, number>

export interface FlowReport {
  /** Completed flows per second (e.g. orders/s). */
  rps: number
  latency: { p50: number; p99: number }
  errors: number
  data: Record<string, unknown>
}
