// The roles that meet a database not set up yet: an api started before its database is
// migrated (ready once it is, its admin made then), migrate creating the database the URL
// names, and a seed run twice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
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

test('migrate on a server without the database DATABASE_URL names creates it, then migrates it', { skip: realServers ? false : 'needs a PostgreSQL server' }, async () => {
  const name = `shop_created_${Date.now().toString(36)}`
  const url = new URL(process.env.DATABASE_URL!)
  url.pathname = `/${name}`
  const server = connectDb({ url: process.env.DATABASE_URL!, poolSize: 1 })
  try {
    const child = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'migrate'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: url.toString(), LOG_LEVEL: 'info' },
      encoding: 'utf8',
      timeout: 120_000,
    })
    assert.equal(child.status, 0, child.stdout + child.stderr)
    assert.match(child.stdout + child.stderr, /created the database DATABASE_URL names/)
    const created = connectDb({ url: url.toString(), poolSize: 1 })
    try {
      const [{ applied }] = await created<{ applied: number }[]>`select count(*)::int as applied from platform.migrations`
      assert.equal(applied, readdirSync('migrations').filter((file) => file.endsWith('.sql')).length, 'every migration applied')
    } finally {
      await created.end()
    }
  } finally {
    await server.unsafe(`drop database if exists ${name} with (force)`)
    await server.end()
  }
})

test('seeding a database with a seed it already holds says so in one line, without a stack trace', { skip: realServers ? false : 'needs a PostgreSQL server' }, async () => {
  const database = await createDatabase()
  try {
    const run = () =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'seed', '--products', '20', '--seed', '7'], {
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: database.url, LOG_LEVEL: 'warn' },
        encoding: 'utf8',
        timeout: 120_000,
      })
    const migrated = connectDb({ url: database.url, poolSize: 1 })
    await migrate(migrated)
    await migrated.end()
    assert.equal(run().status, 0)
    const again = run()
    assert.equal(again.status, 1)
    assert.match(again.stderr, /^Cannot seed: .*seed 7/m)
    assert.doesNotMatch(again.stderr, /\n\s+at /, 'no stack trace')
  } finally {
    await database.drop()
  }
})
