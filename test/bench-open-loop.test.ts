// The bench's open loop and its lean HTTP client: what the search p95 figures rest on.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { LeanPool, rawRequest } from '../bench/lib/lean-http.ts'
import { percentile } from '../bench/lib/stats.ts'
import { openLoop } from '../bench/open-loop.ts'

async function serve(handler: http.RequestListener): Promise<{ url: string; port: number; close: () => Promise<void> }> {
  const server = http.createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, port, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

/** As the API answers: the whole body at once, with its Content-Length. */
function send(res: http.ServerResponse, status: number, body = ''): void {
  res.writeHead(status, { 'content-length': Buffer.byteLength(body) }).end(body)
}

test('the lean client reads answers of any size, answers without a body, and sends bodies', async () => {
  const server = await serve((req, res) => {
    if (req.url === '/304') return res.writeHead(304).end()
    if (req.url === '/missing') return send(res, 404, 'no')
    if (req.url === '/chunked') return res.writeHead(200).end('streamed')
    if (req.method === 'POST') {
      let bytes = 0
      req.on('data', (chunk: Buffer) => (bytes += chunk.length)).on('end', () => send(res, bytes === 5 ? 201 : 400, String(bytes)))
      return
    }
    send(res, 200, 'x'.repeat(Number(req.url!.slice(1))))
  })
  const pool = new LeanPool('127.0.0.1', server.port, 2)
  try {
    const statuses = await Promise.all([
      pool.request(rawRequest('h', 'GET', '/300000')), // many chunks
      pool.request(rawRequest('h', 'HEAD', '/10')),
      pool.request(rawRequest('h', 'GET', '/304')),
      pool.request(rawRequest('h', 'GET', '/missing')),
      pool.request(rawRequest('h', 'POST', '/', { 'content-type': 'text/plain' }, 'hello')),
      ...Array.from({ length: 40 }, (_, i) => pool.request(rawRequest('h', 'GET', `/${i * 1000}`))), // queued behind 2 sockets
    ])
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 304, 404, 201])
    assert.ok(statuses.slice(5).every((status) => status === 200))
    // With its body, for flows that read what they were answered.
    assert.deepEqual(await pool.answer(rawRequest('h', 'POST', '/', {}, 'hello')), { status: 201, body: '5' })
    assert.deepEqual(await pool.answer(rawRequest('h', 'GET', '/70000')), { status: 200, body: 'x'.repeat(70_000) })
    assert.deepEqual(await pool.answer(rawRequest('h', 'GET', '/304')), { status: 304, body: '' })
    // A chunked answer is not read: an error, not a hang, and the pool goes on.
    await assert.rejects(pool.request(rawRequest('h', 'GET', '/chunked')), /content-length/)
    assert.equal(await pool.request(rawRequest('h', 'GET', '/3')), 200)
  } finally {
    pool.close()
    await server.close()
  }
})

test('the open loop counts latency from when each request was due, so a slow server shows its queue', async () => {
  // One socket, a server that takes 100 ms, 20 requests/s for 1 s: each request waits for
  // the ones before it. A closed loop would report 100 ms for every request.
  const server = await serve((_req, res) => setTimeout(() => res.end('ok'), 100))
  try {
    const result = await openLoop(server.url, { rate: 20, connections: 1, timeout: 10 }, 1, ['/'])
    assert.equal(result.requests, 20)
    assert.equal(result.connectionErrors + result.non2xx, 0)
    assert.ok(percentile(result.latencies, 50) > 400, `p50 ${percentile(result.latencies, 50)} ms`)
    assert.ok(percentile(result.latencies, 100) > 900, `max ${percentile(result.latencies, 100)} ms`)
    assert.ok(percentile(result.latencies, 0.1) >= 95, 'no answer is faster than the server (100 ms)')
    assert.ok(result.seconds >= 1.9, 'the last answer comes after 20 x 100 ms')
  } finally {
    await server.close()
  }
})

test('the CPU reading names the ceiling its sum sets on the cores', async () => {
  const { describeCpu } = await import('../bench/lib/cpu.ts')
  // 2 cores = 2,000 ms of CPU a second; 4 + 1 ms per request -> at most 400 requests/s.
  assert.equal(describeCpu({ api: 4, postgres: 1 }, 2), 'api 4, postgres 1; 5 in all: 2 cores sustain at most 400/s at this cost')
  assert.equal(describeCpu({ api: 0.25 }, 4), 'api 0.25; 0.25 in all: 4 cores sustain at most 16,000/s at this cost')
  // Nothing measured (not Linux): the readings alone, no division by zero.
  assert.equal(describeCpu({}, 2), '')
})
