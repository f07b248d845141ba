// An api process started before its database is migrated (a deployment that runs `migrate`
// as a separate step, a little later): it starts, says it is not ready and why, and is ready
// (its admin account made too) once the migrations are there, without a restart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { createDatabase, realServers } from './support/db.ts'
import { spawnShop } from './support/processes.ts'
import { connectDb } from '../src/platform/db/index.ts'
import { migrate } from '../src/platform/db/migrate.ts'

test('an api started on a database not migrated yet answers not ready, naming the migrations, then ready with its admin once they are applied', { skip: realServers ? false : 'needs a PostgreSQL server' }, async () => {
  const database = await createDatabase()
  const admin = { email: 'ops-admin@shop.test', password: 'a long admin password' }
  const api = await spawnShop('api', { DATABASE_URL: database.url, ADMIN_EMAIL: admin.email, ADMIN_PASSWORD: admin.password, INSTANCE: `unmig${Date.now() % 100000}`, LOG_LEVEL: 'info' }, 60_000, 'answering')
  const sql = connectDb({ url: database.url, poolSize: 1 })
  try {
    const notReady = await fetch(`${api.url}/health/ready`)
    assert.equal(notReady.status, 503)
    assert.match(JSON.stringify(await notReady.json()), /migrations not applied/)
    assert.match(api.output(), /could not make sure of the admin account yet/)

    await migrate(sql)
    let ready = 0
    for (let i = 0; i < 50 && ready !== 200; i++) {
      ready = (await fetch(`${api.url}/health/ready`)).status
      if (ready !== 200) await sleep(200)
    }
    assert.equal(ready, 200)
    // The retry runs every 5 s; a sign-in before it would count as a wrong password.
    for (let i = 0; i < 60 && !/admin account made sure of/.test(api.output()); i++) await sleep(250)
    const login = await fetch(`${api.url}/store/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(admin) })
    assert.equal(login.status, 200, 'the admin account was made once the database could take it')
    assert.equal((await fetch(`${api.url}/store/products`)).status, 200)
  } finally {
    assert.equal(await api.stop(), 0)
    await sql.end()
    await database.drop()
  }
})
