// With WEB_CONCURRENCY > 1 the API processes share one port, so a scrape of /metrics
// reaches any one of them: counters would seem to go down every other scrape (Prometheus
// reads that as resets) and half the traffic would be missing. Instead the process that
// takes the scrape asks the cluster's primary, which gathers every process's metrics
// (prom-client's AggregatorRegistry: counters and histograms summed, gauges as each says).
import cluster from 'node:cluster'
import { randomUUID } from 'node:crypto'
import { AggregatorRegistry, type Registry } from 'prom-client'

const ASK = 'shop:cluster-metrics?'
const ANSWER = 'shop:cluster-metrics!'

interface Answer {
  type: typeof ANSWER
  id: string
  text?: string
  error?: string
}

/** Primary: answers its processes' requests for the metrics of them all. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry()
  cluster.on('message', (worker, message: { type?: string; id?: string }) => {
    if (message?.type !== ASK) return
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: ANSWER, id: message.id!, text } satisfies Answer),
      (error: Error) => worker.send({ type: ANSWER, id: message.id!, error: error.message } satisfies Answer),
    )
  })
}

/** A cluster process: the registry whose metrics it gives the primary. */
export function joinClusterMetrics(registry: Registry): void {
  if (!cluster.isWorker) return
  new AggregatorRegistry() // its constructor installs the listener that answers the primary
  AggregatorRegistry.setRegistries([registry])
}

/** In a cluster process: the whole cluster's metrics, from the primary. Null outside a cluster. */
export function clusterMetrics(timeoutMs = 6_000): Promise<string> | null {
  if (!cluster.isWorker || !process.send) return null
  const id = randomUUID()
  return new Promise((resolve, reject) => {
    const onMessage = (message: Answer) => {
      if (message?.type !== ANSWER || message.id !== id) return
      clearTimeout(timer)
      process.off('message', onMessage)
      if (message.error !== undefined) reject(new Error(message.error))
      else resolve(message.text ?? '')
    }
    const timer = setTimeout(() => {
      process.off('message', onMessage)
      reject(new Error('the cluster primary did not answer'))
    }, timeoutMs)
    process.on('message', onMessage)
    process.send!({ type: ASK, id })
  })
}

export const CLUSTER_METRICS_CONTENT_TYPE = AggregatorRegistry.PROMETHEUS_CONTENT_TYPE
