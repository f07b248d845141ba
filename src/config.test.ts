import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { ConfigError, loadConfig } from './config.ts'

test('defaults: nothing configured means the embedded default', () => {
  const config = loadConfig({})
  assert.equal(config.port, 3000)
  assert.equal(config.databaseUrl, null)
  assert.equal(config.redisUrl, null)
  assert.equal(config.natsUrl, null)
  assert.equal(config.instance, 'shop')
  assert.equal(config.dbPoolSize, 1, 'the embedded PGlite socket serves one connection at a time')
  assert.ok(Object.isFrozen(config))
})

test('real servers are taken from the URLs', () => {
  const config = loadConfig({
    DATABASE_URL: 'postgres://u@db:5432/shop',
    REDIS_URL: 'redis://cache:6379',
    NATS_URL: 'nats://bus:4222',
    PORT: '8080',
  })
  assert.equal(config.databaseUrl, 'postgres://u@db:5432/shop')
  assert.equal(config.port, 8080)
  assert.equal(config.dbPoolSize, 4)
})

test('TRUST_PROXY: none by default, everything, a hop count, or addresses and ranges', () => {
  assert.equal(loadConfig({}).trustProxy, false, 'by default X-Forwarded-* is not believed')
  assert.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2)
  assert.deepEqual(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::/8, 192.0.2.7' }).trustProxy, ['loopback', '10.0.0.0/8', 'fd00::/8', '192.0.2.7'])
})

test('MAIL_FROM: an address, with a display name or without', () => {
  assert.equal(loadConfig({}).mailFrom, 'shop@localhost')
  assert.equal(loadConfig({ MAIL_FROM: 'Shop <orders@shop.example>' }).mailFrom, 'Shop <orders@shop.example>')
  assert.equal(loadConfig({ MAIL_FROM: 'orders@shop.example' }).mailFrom, 'orders@shop.example')
})

test('empty ADMIN_EMAIL and ADMIN_PASSWORD are unset, like every other setting', () => {
  const config = loadConfig({ ADMIN_EMAIL: '', ADMIN_PASSWORD: '' })
  assert.equal(config.adminEmail, null)
  assert.equal(config.adminPassword, null)
})

test('CORS_ORIGINS: none by default; origins as a browser sends them', () => {
  assert.deepEqual(loadConfig({}).corsOrigins, [])
  assert.deepEqual(loadConfig({ CORS_ORIGINS: 'https://shop.example.com, http://localhost:5173,https://admin.example.com/' }).corsOrigins, [
    'https://shop.example.com',
    'http://localhost:5173',
    'https://admin.example.com',
  ])
})

const bad: [Record<string, string>, string][] = [
  [{ PORT: 'eighty' }, 'PORT'],
  [{ PORT: '70000' }, 'PORT'],
  [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
  [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
  [{ REDIS_URL: 'http://x' }, 'REDIS_URL'],
  [{ NATS_URL: 'redis://x' }, 'NATS_URL'],
  [{ INSTANCE: 'has spaces' }, 'INSTANCE'],
  [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  [{ ADMIN_EMAIL: 'admin@shop.test' }, 'ADMIN_PASSWORD'],
  [{ ADMIN_EMAIL: 'admin@shop.test', ADMIN_PASSWORD: 'short' }, 'ADMIN_PASSWORD'],
  [{ ADMIN_EMAIL: 'nobody', ADMIN_PASSWORD: 'long-enough-1' }, 'ADMIN_EMAIL'],
  [{ TRUST_PROXY: 'the load balancer' }, 'TRUST_PROXY'],
  [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
  [{ TRUST_PROXY: '10.0.0.1/8/1' }, 'TRUST_PROXY'],
  [{ TRUST_PROXY: '99' }, 'TRUST_PROXY'],
  [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS'],
  [{ MAIL_FROM: 'not an address' }, 'MAIL_FROM'],
  [{ MAIL_FROM: 'Shop <nobody>' }, 'MAIL_FROM'],
  [{ CORS_ORIGINS: 'https://shop.example.com/store' }, 'CORS_ORIGINS'],
  [{ CORS_ORIGINS: 'shop.example.com' }, 'CORS_ORIGINS'],
  [{ CORS_ORIGINS: 'ftp://shop.example.com' }, 'CORS_ORIGINS'],
]

for (const [env, variable] of bad) {
  test(`bad ${variable} (${JSON.stringify(env)}) is refused naming it`, () => {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && error.variable === variable && error.message.startsWith(variable),
    )
  })
}

test('a bad setting stops `start` with a message naming the variable', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start'], {
    env: { PATH: process.env.PATH, PORT: 'not-a-port' },
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(result.status, 78)
  assert.match(result.stderr, /PORT/)
})

test('a bad argument stops `seed` and `reindex` before anything is opened, naming it', () => {
  const env = { PATH: process.env.PATH, DATA_DIR: '/nonexistent/shop-data' }
  for (const [args, named] of [
    [['seed', '--products', 'many'], /--products/],
    [['reindex', '--bogus'], /Unknown option '--bogus'/],
  ] as const) {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env, encoding: 'utf8', timeout: 60_000 })
    assert.equal(result.status, 2, result.stderr)
    assert.match(result.stderr, /^Bad argument/m)
    assert.match(result.stderr, named)
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'a message, not a stack trace')
  }
})
