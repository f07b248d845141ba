// End-to-end checkouts: each virtual user loops new guest cart -> add one unit -> checkout
// with the approving test card, as a shopper would. Reports orders/s and the latency of the
// whole three-request flow. Requests go through the bench's lean keep-alive client: the load
// generator shares the cores with the servers, and undici's pool spent 0.5 ms of CPU per
// order (fetch about four times that).
import { randomUUID } from 'node:crypto'
import { LeanPool, rawRequest } from '../lib/lean-http.ts'
import { describeCpu } from '../lib/cpu.ts'
import { percentile } from '../lib/stats.ts'
import type { FlowScenario } from './types.ts'

const VARIANTS = 200
const BODY = {
  email: 'bench@shop.test',
  shippingAddress: { name: 'Bench Shopper', line1: '1 Load St', city: 'Springfield', postalCode: '12345', country: 'US' },
  payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2035, cvc: '123' } },
}

/** An answer slower than this fails the flow (counted as an error) instead of stalling the run. */
const REQUEST_TIMEOUT_MS = 30_000

async function post(api: LeanPool, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const raw = rawRequest('bench', 'POST', path, { 'content-type': 'application/json', ...headers }, JSON.stringify(body ?? {}))
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer to ${path} in ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS)))
  try {
    const answer = await Promise.race([api.answer(raw), late])
    return { status: answer.status, json: answer.body ? JSON.parse(answer.body) : null }
  } finally {
    clearTimeout(timer)
  }
}

/** One shopper's whole checkout; answers whether it ended in a paid order. */
async function oneCheckout(api: LeanPool, variantId: string): Promise<boolean> {
  const cart = await post(api, '/store/carts', {})
  if (cart.status !== 201) return false
  const add = await post(api, `/store/carts/${cart.json.id}/items`, { variantId, quantity: 1 })
  if (add.status !== 201 && add.status !== 200) return false
  const order = await post(api, `/store/carts/${cart.json.id}/checkout`, BODY, { 'idempotency-key': randomUUID() })
  return order.status === 201 && order.json.status === 'paid'
}

export const checkout: FlowScenario = {
  kind: 'flow',
  name: 'checkout',
  // One API process: 91-110 orders/s against 71-85 with two, alternating runs on 2 cores
  // (the api's own CPU per order 8.2-9.8 ms against 13.1-14.9): the API is half of an
  // order's CPU, and PostgreSQL, the simulator and the worker need the rest of the cores.
  apiProcesses: 1,
  description: 'end-to-end checkouts: new guest cart, add one unit, checkout with the approving card',
  async run(ctx) {
    const variants = await ctx.sql<{ id: string }[]>`
      select v.id::text as id from catalog.variants v join catalog.products p on p.id = v.product_id
      where p.deleted_at is null order by v.id limit ${VARIANTS}`
    if (variants.length === 0) throw new Error('the bench catalog is empty')
    // Ample stock: the run measures checkout, not sold-out refusals.
    await ctx.sql`update inventory.stock set available = 1000000000 where variant_id = any(${variants.map((v) => v.id)}::bigint[])`
    const users = Number(process.env.BENCH_CHECKOUT_USERS ?? 32)
    const { hostname, port } = new URL(ctx.api)
    const api = new LeanPool(hostname, Number(port), users)

    const drive = async (seconds: number) => {
      const latencies: number[] = []
      let errors = 0
      const until = Date.now() + seconds * 1000
      await Promise.all(
        Array.from({ length: users }, async () => {
          while (Date.now() < until) {
            const started = performance.now()
            const variantId = variants[Math.floor(Math.random() * variants.length)].id
            const ok = await oneCheckout(api, variantId).catch(() => false)
            if (ok) latencies.push(performance.now() - started)
            else errors++
          }
        }),
      )
      return { latencies: latencies.sort((a, b) => a - b), errors }
    }

    ctx.log(`checkout: ${users} shoppers, ${ctx.warmup} s warm-up + ${ctx.duration} s`)
    await drive(ctx.warmup)
    const stopCpu = ctx.countCpu()
    const { latencies, errors } = await drive(ctx.duration)
    const cpu = stopCpu()
    api.close()
    // Where an order's CPU goes: the cores are shared, so this is what bounds orders/s.
    const perOrder = Object.fromEntries(Object.entries(cpu).map(([name, ms]) => [name, Number((ms / Math.max(1, latencies.length)).toFixed(2))]))
    ctx.log(`checkout: CPU ms per order: ${describeCpu(perOrder)}`)
    const [{ orders }] = await ctx.sql<{ orders: number }[]>`select count(*)::int as orders from orders.orders where status = 'paid'`
    return {
      rps: Math.round(latencies.length / ctx.duration),
      latency: { p50: Math.round(percentile(latencies, 50)), p99: Math.round(percentile(latencies, 99)) },
      errors,
      data: { users, completed: latencies.length, paidOrdersInDatabase: orders, cpuMsPerOrder: perOrder },
    }
  },
}
