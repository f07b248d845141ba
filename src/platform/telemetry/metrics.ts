import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { joinClusterMetrics } from './cluster-metrics.ts'

// One registry per process so that tests can build several apps side by side.
export interface Metrics {
  registry: Registry
  httpDuration: Histogram<'method' | 'route' | 'status'>
  cacheLookups: Counter<'cache' | 'tier' | 'result'>
  dbQueries: Counter
  shedRequests: Counter
}

export function createMetrics(defaults = true): Metrics {
  const registry = new Registry()
  if (defaults) collectDefaultMetrics({ register: registry })
  joinClusterMetrics(registry)
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'cache_lookups_total',
      help: 'Cache lookups by cache, tier (lru, kv, db) and result (hit, miss, stale)',
      labelNames: ['cache', 'tier', 'result'],
      registers: [registry],
    }),
    dbQueries: new Counter({ name: 'db_queries_total', help: 'Queries sent to PostgreSQL (counted only when query counting is on: tests)', registers: [registry] }),
    shedRequests: new Counter({ name: 'http_shed_total', help: 'Requests refused by load shedding', registers: [registry] }),
  }
}
