import postgres from 'postgres'
import { execSync } from 'node:child_process'
const sql = postgres('postgres://postgres@127.0.0.1:5433/postgres', { max: 1, connect_timeout: 5, onnotice: () => {} })
let ok = 0, failed = 0, stop = false
const errs = new Map()
const once = async () => { const c = await sql.reserve(); try { await c`select 1` } finally { c.release() } }
const loop = (async () => {
  while (!stop) {
    const r = await Promise.race([once().then(() => 'ok', (e) => (errs.set(e.code ?? e.message, (errs.get(e.code ?? e.message) ?? 0) + 1), 'fail')), new Promise((res) => setTimeout(() => res('hang'), 8000))])
    if (r === 'ok') ok++; else if (r === 'fail') failed++; else { console.log('HANG'); break }
    await new Promise((res) => setTimeout(res, 50))
  }
})()
await new Promise((r) => setTimeout(r, 500))
execSync('bench/postgres.sh stop >/dev/null; sleep 1.5; bench/postgres.sh start >/dev/null')
const before = ok; errs.clear()
await new Promise((r) => setTimeout(r, 3000))
console.log({ okAfterRestart: ok - before, failed, errs })
try { console.log(await sql`select 1 as x`) } catch (e) { console.log('plain query', e.code ?? e.message) }
stop = true
await Promise.race([loop, new Promise((r) => setTimeout(r, 9000))])
process.exit(0)
