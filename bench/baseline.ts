// The bare baseline: node:http on every core answering any GET (and, for write scenarios,
// any other request, after reading its body) with one fixed ~1 KB product.
// It is the ceiling for this machine: the API's req/s is reported as a fraction of it.
// Usage: node --import tsx bench/baseline.ts [port]   (or PORT=...; BASELINE_WORKERS overrides the core count)
import cluster from 'node:cluster'
import http from 'node:http'
import os from 'node:os'

const port = Number(process.argv[2] ?? process.env.PORT ?? 3100)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`baseline: bad port "${process.argv[2] ?? process.env.PORT}"`)
  process.exit(2)
}
const workers = Number(process.env.BASELINE_WORKERS ?? os.availableParallelism())

/** A product shaped like GET /store/products/{id}: three variants, three images. */
export const PRODUCT = {
  id: '1042',
  slug: 'trailrunner-waterproof-leather-hiking-boot-1042',
  name: 'Trailrunner Waterproof Leather Hiking Boot',
  description:
    'Built by Northpeak, the Trailrunner Waterproof Leather Hiking Boot is tested in the field before it ever reaches a shelf. ' +
    'The grippy rubber outsole holds on wet rock and city streets alike. Backed by a 3-year Northpeak warranty.',
  brand: 'Northpeak',
  category: 'footwear/boots',
  images: [
    'https://picsum.photos/seed/trailrunner-waterproof-leather-hiking-boot-1042/600/600',
    'https://picsum.photos/seed/trailrunner-waterproof-leather-hiking-boot-1042-2/600/600',
    'https://picsum.photos/seed/trailrunner-waterproof-leather-hiking-boot-1042-3/600/600',
  ],
  variants: [
    { id: '2601', sku: 'SKU-1-1041-0', title: 'US 9 / Forest Green', price: { amount: 18999, currency: 'USD' }, inStock: true },
    { id: '2602', sku: 'SKU-1-1041-1', title: 'US 10 / Forest Green', price: { amount: 18999, currency: 'USD' }, inStock: true },
    { id: '2603', sku: 'SKU-1-1041-2', title: 'US 11 / Forest Green', price: { amount: 18999, currency: 'USD' }, inStock: false },
  ],
  createdAt: '2025-03-14T09:26:53.589Z',
  updatedAt: '2025-03-14T09:26:53.589Z',
}

const BODY = Buffer.from(JSON.stringify(PRODUCT))
const HEADERS = { 'content-type': 'application/json', 'content-length': String(BODY.length) }

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork()
  let exited = 0
  cluster.on('exit', () => {
    if (++exited === workers) process.exit(0)
  })
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM')
    })
  }
} else {
  const server = http.createServer((request, response) => {
    if (request.method === 'GET') {
      response.writeHead(200, HEADERS).end(BODY)
      return
    }
    // Any other method (a write scenario's baseline): read the body, answer the same product.
    request.resume()
    request.once('end', () => response.writeHead(200, HEADERS).end(request.method === 'HEAD' ? undefined : BODY))
  })
  server.keepAliveTimeout = 65_000
  server.listen(port, '127.0.0.1')
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => server.close(() => process.exit(0)))
}
