import type { App } from '../platform/http/server.ts'

// A placeholder front page until the storefront arrives with its own issue.
const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>shop</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
ul{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem;list-style:none;padding:0}
li{border:1px solid #ddd;border-radius:.5rem;padding:.75rem}img{width:100%;border-radius:.25rem}</style></head>
<body><h1>shop</h1><p>The platform is running. The API is documented at <a href="/docs">/docs</a>.</p>
<h2>Some products</h2><ul id="products"></ul>
<script type="module">
const list = document.getElementById('products')
const res = await fetch('/store/products?limit=12')
const { items } = await res.json()
for (const p of items) {
  const li = document.createElement('li')
  const price = p.variants[0] ? (p.variants[0].price.amount / 100).toFixed(2) + ' ' + p.variants[0].price.currency : ''
  li.innerHTML = '<strong></strong><div></div><small></small>'
  li.querySelector('strong').textContent = p.name
  li.querySelector('div').textContent = p.brand + ' · ' + price
  li.querySelector('small').textContent = p.category
  list.append(li)
}
</script></body></html>`

export async function placeholderPageRoutes(app: App) {
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(PAGE))
}
