// The HTTP platform every module stands on: docs, health, metrics, headers, errors, shedding.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { checkSync } from 'recheck'
import { PATTERNS } from '../src/platform/http/errors.ts'
import { sampleProduct, startTestApp, type TestApp } from './support/app.ts'

describe('http platform', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp()
  })
  after(() => t.close())

  test('/openapi.json is generated from the route schemas and /docs serves it', async () => {
    const doc = await t.call('GET', '/openapi.json')
    assert.equal(doc.status, 200)
    assert.equal(doc.body.openapi, '3.1.0')
    assert.ok(doc.body.paths['/store/products/{id}'], 'product detail is documented')
    assert.ok(doc.body.paths['/admin/products'].post.requestBody, 'admin create documents its body')
    // The answers a route sends, not swagger's "200 Default Response".
    const codes = (path: string, method: string) => Object.keys(doc.body.paths[path][method].responses).sort()
    assert.deepEqual(codes('/store/carts/{id}/checkout', 'post'), ['201', '202', '400', '402', '409', '422', '429', '503', 'default'])
    assert.deepEqual(codes('/store/auth/register', 'post'), ['201', '400', '409', '429', 'default'])
    assert.deepEqual(codes('/admin/products/{id}', 'delete'), ['204', '404', 'default'])
    assert.deepEqual(codes('/store/carts', 'post'), ['201', '429', 'default'], 'a route with response schemas keeps them')
    // Every route says what its errors look like, so a generated client can read them.
    for (const [path, methods] of Object.entries(doc.body.paths as Record<string, Record<string, { responses: Record<string, any> }>>)) {
      for (const [method, operation] of Object.entries(methods)) {
        const problem = operation.responses.default?.content?.['application/problem+json']?.schema
        assert.ok(problem?.required?.includes('code'), `${method} ${path} documents its problem+json errors`)
      }
    }
    assert.deepEqual(doc.body.components.securitySchemes.cookie, { type: 'apiKey', in: 'cookie', name: 'sid' })
    const docs = await fetch(`${t.url}/docs/`)
    assert.equal(docs.status, 200)
    assert.match(await docs.text(), /swagger/i)
  })

  test('every pattern a request is checked against matches in linear time (no regular-expression denial of service)', async () => {
    // ajv checks every keyword (allErrors), so a pattern runs even on a string far past its
    // maxLength, and a body may be a megabyte: a pattern whose matching time grows faster
    // than the input let one crafted e-mail hold the event loop for seconds (80 KB: 4 s).
    // recheck proves each one linear (or, where it cannot, finds no attack string by fuzzing).
    const doc = (await t.call('GET', '/openapi.json')).body
    const patterns = new Set<string>(Object.values(PATTERNS))
    const pending: unknown[] = [doc]
    while (pending.length > 0) {
      const value = pending.pop()
      if (value === null || typeof value !== 'object') continue
      for (const [key, child] of Object.entries(value)) {
        if (key === 'pattern' && typeof child === 'string') patterns.add(child)
        else pending.push(child)
      }
    }
    assert.ok(patterns.size >= 12, `the contract's patterns were found (${patterns.size})`)
    for (const pattern of patterns) {
      const verdict = checkSync(pattern, 'u')
      assert.equal(verdict.status, 'safe', `${pattern}: ${verdict.status} ${verdict.status === 'vulnerable' ? verdict.complexity.type : ''}`)
    }
    assert.equal(checkSync('^\\s*[^@\\s]+@[^@\\s]+\\.[^@\\s]+\\s*$', 'u').status, 'vulnerable', 'the check tells a slow pattern (the old e-mail one)')
  })

  test('health: live, and ready checking each dependency', async () => {
    assert.equal((await t.call('GET', '/health/live')).status, 200)
    const ready = await t.call('GET', '/health/ready')
    assert.equal(ready.status, 200)
    assert.equal(ready.body.checks.postgres, 'ok')
    assert.equal(ready.body.checks.kv, 'ok')
  })

  test('/metrics has HTTP latency histograms and cache hit/miss counters', async () => {
    const product = (await t.call('POST', '/admin/products', { token: await t.adminToken(), body: sampleProduct() })).body
    await t.call('GET', `/store/products/${product.id}`)
    await t.call('GET', `/store/products/${product.id}`)
    const res = await fetch(`${t.url}/metrics`)
    const text = await res.text()
    assert.match(text, /http_request_duration_seconds_bucket\{.*route="\/store\/products\/:id".*\}/)
    assert.match(text, /cache_lookups_total\{cache="product",tier="lru",result="hit"\} [1-9]/)
    assert.match(text, /cache_lookups_total\{cache="product",tier="lru",result="miss"\} [1-9]/)
  })

  test('request ids: generated, or taken from a well-formed x-request-id', async () => {
    const own = await t.call('GET', '/health/live', { headers: { 'x-request-id': 'trace-abc.123' } })
    assert.equal(own.headers.get('x-request-id'), 'trace-abc.123')
    const generated = await t.call('GET', '/health/live', { headers: { 'x-request-id': 'bad id with spaces' } })
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
  })

  test('security headers: the API set on every answer, the whole document set on HTML pages', async () => {
    for (const path of ['/health/live', '/store/categories', '/nowhere']) {
      const res = await t.call('GET', path)
      assert.equal(res.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'", path)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
      assert.equal(res.headers.get('x-frame-options'), 'DENY', path)
      assert.equal(res.headers.get('cross-origin-resource-policy'), 'same-origin', path)
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer', path)
      assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d+/, path)
      assert.equal(res.headers.get('cross-origin-opener-policy'), null, `${path}: document-only headers stay off JSON`)
    }
    for (const path of ['/', '/docs/']) {
      const res = await fetch(`${t.url}${path}`)
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/, path)
      assert.match(res.headers.get('content-security-policy') ?? '', /^default-src 'self'/, `${path}: the page may load its own scripts`)
      assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'self'/, path)
      assert.equal(res.headers.get('x-frame-options'), 'SAMEORIGIN', path)
      assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin', path)
      assert.equal(res.headers.get('x-dns-prefetch-control'), 'off', path)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
      assert.match(res.headers.get('strict-transport-security') ?? '', /max-age=\d+/, path)
      await res.arrayBuffer()
    }
  })

  test('an unknown route is a 404 problem+json', async () => {
    const res = await t.call('GET', '/nowhere')
    assert.equal(res.status, 404)
    assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    assert.deepEqual(Object.keys(res.body).sort(), ['code', 'detail', 'instance', 'status', 'title', 'type'])
  })

  test('a path asked with a method it does not answer is a 405 with Allow, not a 404', async () => {
    const token = await t.adminToken()
    const put = await t.call('PUT', '/admin/products/1', { token, body: { name: 'x' } })
    assert.equal(put.status, 405)
    assert.equal(put.body.code, 'method_not_allowed')
    assert.equal(put.headers.get('allow'), 'DELETE, GET, HEAD, PATCH')
    const post = await t.call('POST', '/store/search?q=boot')
    assert.deepEqual([post.status, post.headers.get('allow')], [405, 'GET, HEAD'])
    assert.equal((await t.call('GET', '/admin/products/1/nothing', { token })).status, 404, 'a path no route has is still a 404')
    const missingFile = await t.call('GET', '/docs/static/no-such-file.js')
    assert.deepEqual([missingFile.status, missingFile.body.code], [404, 'not_found'], 'a file the docs do not have: not "answers GET, not GET"')
    for (const path of ['/docs/static/..%2f..%2fpackage.json', '/docs/static/%2e%2e/%2e%2e/package.json', '/docs/static/../../package.json']) {
      const out = await t.call('GET', path)
      assert.ok([403, 404].includes(out.status), `${path}: ${out.status}`)
      assert.equal(out.body.code, out.status === 403 ? 'forbidden' : 'not_found', path)
    }
  })

  test('a JSON body is taken as sent: null, false and hex strings are not numbers; query strings still are', async () => {
    const token = await t.adminToken()
    const product = await t.call('POST', '/admin/products', { token, body: sampleProduct() })
    assert.equal(product.status, 201)
    const variant = product.body.variants[0]
    for (const amount of [null, false, '0x7d0', '2000']) {
      const res = await t.call('PATCH', `/admin/products/${product.body.id}`, { token, body: { variants: [{ id: variant.id, price: { amount, currency: 'USD' } }] } })
      assert.equal(res.status, 400, `amount ${JSON.stringify(amount)}`)
      assert.equal(res.body.code, 'validation_failed')
      assert.match(res.body.detail, /variants\.0\.price\.amount/)
    }
    assert.deepEqual((await t.call('GET', `/store/products/${product.body.id}`)).body.variants[0].price, variant.price, 'the price is unchanged')
    const cart = (await t.call('POST', '/store/carts')).body.id
    assert.equal((await t.call('POST', `/store/carts/${cart}/items`, { body: { variantId: variant.id, quantity: 2 } })).status, 200)
    for (const quantity of [null, false, true, '0x1']) {
      const res = await t.call('PATCH', `/store/carts/${cart}/items/${variant.id}`, { body: { quantity } })
      assert.equal(res.status, 400, `quantity ${JSON.stringify(quantity)}`)
      assert.match(res.body.detail, /quantity/)
    }
    assert.equal((await t.call('GET', `/store/carts/${cart}`)).body.items[0].quantity, 2, 'the line is unchanged')
    const page = await t.call('GET', '/store/products?limit=1')
    assert.equal(page.status, 200, 'a query string number is coerced')
    assert.equal(page.body.items.length, 1)
  })

  test('a NUL character anywhere in the input is a 400 naming where, never a 500', async () => {
    const token = await t.adminToken()
    const created = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Nul\u0000Lamp' }) })
    assert.equal(created.status, 400)
    assert.equal(created.body.code, 'validation_failed')
    assert.match(created.body.detail, /^name: /)
    const register = await t.call('POST', '/store/auth/register', { body: { email: 'a\u0000b@example.com', password: 'password-123', name: 'N', country: 'DE' } })
    assert.equal(register.status, 400)
    assert.match(register.body.detail, /email/)
    const address = { name: 'G\u0000', line1: '1 St', city: 'X', postalCode: '123', country: 'US' }
    const checkout = await t.call('POST', '/store/carts/nope/checkout', {
      headers: { 'idempotency-key': 'nul-in-the-address-1' },
      body: { email: 'g@example.com', shippingAddress: address, payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' } } },
    })
    assert.equal(checkout.status, 400)
    assert.match(checkout.body.detail, /shippingAddress\.name/)
    // A lone UTF-16 surrogate ("\udc00" in the JSON): jsonb refuses it, text would keep it as U+FFFD.
    const goods = (await t.call('POST', '/admin/products', { token, body: sampleProduct() })).body
    const bought = (await t.call('POST', '/store/carts')).body.id
    await t.call('POST', `/store/carts/${bought}/items`, { body: { variantId: goods.variants[0].id, quantity: 1 } })
    const surrogate = await t.call('POST', `/store/carts/${bought}/checkout`, {
      headers: { 'idempotency-key': 'surrogate-in-the-address-1' },
      body: { email: 'g@example.com', shippingAddress: { ...address, name: 'A\udc00B' }, payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' } } },
    })
    assert.deepEqual([surrogate.status, surrogate.body.code], [400, 'validation_failed'])
    assert.match(surrogate.body.detail, /shippingAddress\.name: must not contain a lone UTF-16 surrogate/)
    assert.equal((await t.call('GET', `/store/carts/${bought}`)).body.items.length, 1, 'nothing bought')
    // Control characters in a line of text: a name that colours a terminal, an address with a line break.
    const ansi = await t.call('POST', '/store/auth/register', { body: { email: 'ansi@example.com', password: 'password-123', name: '\u001b[31mRed', country: 'DE' } })
    assert.deepEqual([ansi.status, ansi.body.detail], [400, 'name: must not be blank or contain control characters'])
    const bell = await t.call('POST', `/store/carts/${bought}/checkout`, {
      headers: { 'idempotency-key': 'control-in-the-email-1' },
      body: { email: 'g\u0001@example.com', shippingAddress: { ...address, name: 'Ada', city: 'Spring\nfield' }, payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' } } },
    })
    assert.equal(bell.status, 400)
    assert.deepEqual(bell.body.errors.map((e: { path: string }) => e.path).sort(), ['email', 'shippingAddress.city'])
    // Invisible ones too: NEL (a C1 control), a right-to-left override that shows the address reversed.
    const hidden = await t.call('POST', `/store/carts/${bought}/checkout`, {
      headers: { 'idempotency-key': 'invisible-in-the-email-1' },
      body: { email: 'moc.\u202eevil@example.com', shippingAddress: { ...address, name: 'Ada\u0085' }, payment: { card: { number: '4242424242424242', expMonth: 12, expYear: 2031, cvc: '123' } } },
    })
    assert.equal(hidden.status, 400)
    assert.deepEqual(hidden.body.errors.map((e: { path: string }) => e.path).sort(), ['email', 'shippingAddress.name'])
    const accented = await t.call('POST', '/store/auth/register', { body: { email: 'zoë.ünï@exämple.com', password: 'password-123', name: 'Zoë Ünï-Öst', country: 'DE' } })
    assert.equal(accented.status, 201, 'letters of any script are text')
    const renamed = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Lamp \ud800' }) })
    assert.equal(renamed.status, 400)
    assert.match(renamed.body.detail, /^name: /)
    // Nested deep (past any recursion's stack): still a 400, from the schema.
    const deep = `{"variantId":"1","quantity":1,"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}`
    const cart = (await t.call('POST', '/store/carts')).body.id
    const nested = await fetch(`${t.url}/store/carts/${cart}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep })
    assert.equal(nested.status, 400)
    for (const path of ['/store/orders/ord_%00abc', '/store/products?cursor=%00', '/store/customers/me/orders?cursor=%00']) {
      const res = await t.call('GET', path)
      assert.equal(res.status, 400, path)
      assert.equal(res.body.code, 'validation_failed', path)
    }
  })

  test('answers are no-store unless the route caches (product pages and search)', async () => {
    const product = (await t.call('POST', '/admin/products', { token: await t.adminToken(), body: sampleProduct() })).body
    const login = await t.call('POST', '/store/auth/login', { body: { email: 'nobody@shop.test', password: 'wrong-password' } })
    assert.equal(login.headers.get('cache-control'), 'no-store')
    assert.equal((await t.call('POST', '/store/carts')).headers.get('cache-control'), 'no-store')
    assert.equal((await t.call('GET', '/store/orders/ord_unknown?accessToken=x')).headers.get('cache-control'), 'no-store')
    assert.match((await t.call('GET', `/store/products/${product.id}`)).headers.get('cache-control') ?? '', /^public/)
    assert.match((await t.call('GET', '/store/search?q=boot')).headers.get('cache-control') ?? '', /max-age/)
  })

  test('a malformed URL or an overlong path segment is a problem+json too', async () => {
    for (const [path, status] of [['/store/carts/%zz', 400], ['/store/products/%E0%A4%A', 400], [`/store/carts/${'a'.repeat(101)}`, 400], [`/store/products/${'1'.repeat(300)}`, 404]] as const) {
      const res = await t.call('GET', path)
      assert.equal(res.status, status, path)
      assert.equal(res.headers.get('content-type'), 'application/problem+json; charset=utf-8', path)
      assert.ok(res.headers.get('x-request-id'), path)
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path)
    }
  })

  test('a number in the query that is no finite number ("1e309", "Infinity") is a 400 naming it, never a 500', async () => {
    for (const path of ['/store/products?limit=1e309', '/store/search?q=boot&limit=Infinity', '/store/search?q=boot&minPrice=1e309', '/store/search?maxPrice=-Infinity', '/store/search/suggest?q=bo&limit=Infinity']) {
      const res = await t.call('GET', path)
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`)
      assert.equal(res.body.code, 'validation_failed')
      const name = new URL(path, 'http://x').searchParams
      assert.ok([...name.keys()].includes(res.body.errors[0].path), `${path} names ${res.body.errors[0].path}`)
    }
    assert.equal((await t.call('GET', '/store/search?q=Infinity')).status, 200, 'as text it is just text')
  })

  test('a query string as forms and links send it: empty fields are not given, parameters a route does not take are ignored; a bad value is still a 400', async () => {
    const token = await t.adminToken()
    const product = await t.call('POST', '/admin/products', { token, body: sampleProduct({ name: 'Query Tidy Lamp' }) })
    assert.equal(product.status, 201)
    await t.drainEvents() // the search index follows the catalog through events
    // An unfilled filter form, as API.md prints the routes, and what mail tools and scripts add.
    const list = await t.call('GET', '/store/products?category=&limit=&cursor=&utm_source=newsletter&_=1732800000')
    assert.equal(list.status, 200, JSON.stringify(list.body))
    assert.equal(list.body.items.length, (await t.call('GET', '/store/products')).body.items.length, 'the default page')
    const search = await t.call('GET', '/store/search?q=tidy+lamp&category=&brand=&minPrice=&maxPrice=&inStock=&sort=&limit=&cursor=&fbclid=abc')
    assert.equal(search.status, 200, JSON.stringify(search.body))
    assert.ok(search.body.items.some((item: { id: string }) => item.id === product.body.id))
    const brands = await t.call('GET', `/store/search?q=tidy+lamp&brand=&brand=${encodeURIComponent(product.body.brand)}`)
    assert.equal(brands.status, 200)
    assert.deepEqual(brands.body.items.map((item: { id: string }) => item.id), [product.body.id], 'the empty brand is dropped, the given one filters')
    assert.equal((await t.call('GET', '/store/search/suggest?q=&utm_medium=x')).status, 200, 'empty text is still text where a route takes it')
    assert.equal((await t.call('GET', '/store/customers/me/orders?_=1')).status, 401, 'an ignored parameter changes nothing else')
    for (const path of ['/store/products?limit=abc&utm_source=x', '/store/search?q=lamp&sort=cheapest&fbclid=1', '/store/search?q=lamp&category=Not%20A%20Slug']) {
      const res = await t.call('GET', path)
      assert.equal(res.status, 400, path)
      assert.equal(res.body.code, 'validation_failed')
      assert.equal(res.body.errors.length, 1, `${path}: only the bad value is named: ${JSON.stringify(res.body.errors)}`)
    }
  })

  test('a body with thousands of wrong fields is answered naming the first 20, not with an answer bigger than the request', async () => {
    const cart = (await t.call('POST', '/store/carts')).body.id
    const body: Record<string, number> = { quantity: 1 }
    for (let i = 0; i < 3000; i++) body[`unknown${i}`] = i // under the 64 KB a shopper may send
    const res = await fetch(`${t.url}/store/carts/${cart}/items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const text = await res.text()
    assert.equal(res.status, 400)
    const problem = JSON.parse(text)
    assert.equal(problem.code, 'validation_failed')
    assert.equal(problem.errors.length, 20)
    assert.match(problem.detail, /and \d+ more$/)
    assert.ok(text.length < 5000, `answer of ${text.length} bytes`)
  })

  test('a wrong content type is a 4xx problem, never a 500', async () => {
    const res = await fetch(`${t.url}/store/auth/login`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<x/>' })
    assert.equal(res.status, 415)
    const problem = await res.json()
    assert.deepEqual([problem.status, problem.code], [415, 'unsupported_media_type'], 'a code that says what is wrong, as 413 has')
  })

  test("a shopper's route reads at most 64 KB of body (413 payload_too_large), a merchant's route 1 MB", async () => {
    const nested = '['.repeat(40_000) + ']'.repeat(40_000)
    const store = await fetch(`${t.url}/store/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: nested })
    assert.equal(store.status, 413)
    assert.equal((await store.json()).code, 'payload_too_large')
    const token = await t.adminToken()
    const admin = await fetch(`${t.url}/admin/products`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ name: 'x'.repeat(100_000) }),
    })
    assert.equal(admin.status, 400, 'read, and refused by its schema')
    assert.ok((await admin.json()).errors.some((e: { path: string }) => e.path === 'name'))
  })

  test('"JSON, and nothing" is no body: a route that takes none answers, one that needs one names the field', async () => {
    const json = { 'content-type': 'application/json' }
    const cart = await fetch(`${t.url}/store/carts`, { method: 'POST', headers: json })
    assert.equal(cart.status, 201, await cart.clone().text())
    const login = await fetch(`${t.url}/store/auth/login`, { method: 'POST', headers: json })
    assert.equal(login.status, 400)
    assert.equal((await login.json()).code, 'validation_failed')
    // A DELETE with the header and no body at all (no Content-Length either, as curl sends it).
    const admin = await t.adminToken()
    const product = await t.call('POST', '/admin/products', { token: admin, body: sampleProduct() })
    const deleted = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${t.url}/admin/products/${product.body.id}`)
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'DELETE', headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` } }, (res) => {
        res.resume()
        resolve(res.statusCode!)
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(deleted, 204)
  })
})

test("load shedding: 503 with Retry-After while the event loop lags; liveness and the merchant's routes still answer; logged once, not per request", async (t) => {
  const lines: string[] = []
  const app = await startTestApp({ env: { MAX_EVENT_LOOP_DELAY_MS: '40', LOG_LEVEL: 'warn' }, logStream: { write: (line: string) => void lines.push(line) } })
  t.after(() => app.close())
  const busy = async (ms: number) => {
    // Block the loop in slices, yielding briefly so the delay monitor records each slice.
    const until = Date.now() + ms
    while (Date.now() < until) {
      const slice = Date.now() + 100
      while (Date.now() < slice) {}
      await new Promise((r) => setImmediate(r))
    }
  }
  const token = await app.adminToken()
  let shed: Response | null = null
  let shedCount = 0
  let live = 0
  const merchant: number[] = []
  for (let attempt = 0; attempt < 10 && shedCount < 3; attempt++) {
    await busy(600)
    const [liveness, admin, ...answers] = await Promise.all([
      fetch(`${app.url}/health/live`),
      fetch(`${app.url}/admin/orders?limit=1`, { headers: { authorization: `Bearer ${token}` } }),
      ...[1, 2, 3].map(() => fetch(`${app.url}/store/categories`)),
    ])
    live = liveness.status
    if (answers.some((res) => res.status === 503)) merchant.push(admin.status)
    for (const res of answers) {
      if (res.status !== 503) continue
      shed ??= res
      shedCount++
    }
  }
  assert.ok(shed, 'a request was shed')
  assert.equal(shed.headers.get('retry-after'), '5')
  assert.equal((await shed.json()).code, 'unavailable')
  assert.equal(live, 200)
  assert.ok(merchant.length > 0 && merchant.every((status) => status === 200), `the merchant's route while shoppers were shed: ${merchant}`)
  const logged = lines.map((line) => JSON.parse(line) as { msg: string; status?: number; suppressed?: number })
  assert.equal(logged.filter((line) => line.msg === 'request failed' && line.status === 503).length, 0, 'no line per shed request')
  const overloaded = logged.filter((line) => line.msg.startsWith('overloaded'))
  assert.ok(overloaded.length >= 1 && overloaded.length < shedCount, `${overloaded.length} lines for ${shedCount} shed requests`)
  const metrics = await (await fetch(`${app.url}/metrics`)).text()
  const counted = Number(/^http_shed_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? NaN)
  assert.ok(counted >= shedCount, `the metric counts each (${counted} of ${shedCount})`)
  // Once the lag is gone, requests are served again.
  await new Promise((r) => setTimeout(r, 800))
  assert.equal((await fetch(`${app.url}/store/categories`)).status, 200)
})

test('CORS: pages of the origins in CORS_ORIGINS may call the API with a bearer token (no cookies); other origins, and every origin by default, get no CORS headers', async () => {
  const origin = 'https://storefront.example.com'
  const preflight = (url: string, from: string) =>
    fetch(`${url}/store/carts`, { method: 'OPTIONS', headers: { origin: from, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,idempotency-key,authorization' } })
  const open = await startTestApp({ env: { CORS_ORIGINS: `${origin},http://localhost:5173` } })
  const closed = await startTestApp()
  try {
    const allowed = await preflight(open.url, origin)
    assert.ok(allowed.status === 204 || allowed.status === 200, `preflight ${allowed.status}`)
    assert.equal(allowed.headers.get('access-control-allow-origin'), origin)
    assert.match(allowed.headers.get('access-control-allow-methods') ?? '', /POST/)
    assert.match(allowed.headers.get('access-control-allow-headers') ?? '', /idempotency-key/)
    assert.equal(allowed.headers.get('access-control-allow-credentials'), null, 'no cookies cross-origin')
    const created = await fetch(`${open.url}/store/carts`, { method: 'POST', headers: { origin } })
    assert.equal(created.status, 201)
    assert.equal(created.headers.get('access-control-allow-origin'), origin)
    assert.match(created.headers.get('access-control-expose-headers') ?? '', /location/)
    assert.match(created.headers.get('vary') ?? '', /origin/i)

    const stranger = await preflight(open.url, 'https://evil.example')
    assert.equal(stranger.headers.get('access-control-allow-origin'), null)
    const strangerRead = await fetch(`${open.url}/store/categories`, { headers: { origin: 'https://evil.example' } })
    assert.equal(strangerRead.headers.get('access-control-allow-origin'), null)

    const byDefault = await fetch(`${closed.url}/store/categories`, { headers: { origin } })
    assert.equal(byDefault.status, 200)
    assert.equal(byDefault.headers.get('access-control-allow-origin'), null)
    assert.equal((await preflight(closed.url, origin)).headers.get('access-control-allow-origin'), null)
  } finally {
    await open.close()
    await closed.close()
  }
})
