import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startTestApp, type TestApp } from '../../../test/support/app.ts'
import { realServers } from '../../../test/support/db.ts'
import { searchSessionSettings } from './pg-search.ts'

let t: TestApp
before(async () => {
  t = await startTestApp()
})
after(() => t?.close())

test("search's pool runs with search's own settings: its timeout, its work_mem, no prefetch hints", { skip: realServers ? false : 'PGlite has no second pool' }, async () => {
  const searchPool = t.platform.openPool(searchSessionSettings(2000))!
  const [row] = await searchPool<{ t: string; mem: string; prefetch: string }[]>`
    select current_setting('statement_timeout') as t, current_setting('work_mem') as mem,
           current_setting('effective_io_concurrency') as prefetch`
  assert.deepEqual(row, { t: '2s', mem: '32MB', prefetch: '0' })
})
