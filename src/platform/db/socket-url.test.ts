// A DATABASE_URL may name a Unix socket directory the libpq way (?host=/run/postgresql), as a
// deployment with PostgreSQL on the same machine would; postgres.js alone would send `host`
// to the server as a setting and fail.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectDb, socketOptions } from './index.ts'

test('?host=/directory becomes the socket path, on the URL\'s port; other URLs pass through', () => {
  assert.deepEqual(socketOptions('postgres://shop@localhost:5433/shop?host=/run/postgresql&sslmode=disable'), {
    url: 'postgres://shop@localhost:5433/shop?sslmode=disable',
    path: '/run/postgresql/.s.PGSQL.5433',
  })
  assert.equal(socketOptions('postgres://shop@localhost/shop?host=/tmp').path, '/tmp/.s.PGSQL.5432')
  const tcp = 'postgres://shop@db.internal:5432/shop?host=db.internal'
  assert.deepEqual(socketOptions(tcp), { url: tcp })
})

const serverUrl = process.env.DATABASE_URL
test('connects through the server\'s Unix socket', { skip: !serverUrl && 'needs DATABASE_URL' }, async (t) => {
  const tcp = connectDb({ url: serverUrl!, poolSize: 1 })
  const [{ directories, port }] = await tcp<{ directories: string; port: string }[]>`
    select current_setting('unix_socket_directories') as directories, current_setting('port') as port`
  await tcp.end()
  const directory = directories.split(',')[0]?.trim()
  if (!directory) return t.skip('this server listens on no Unix socket')
  const url = new URL(serverUrl!)
  url.hostname = 'localhost'
  url.port = port
  url.searchParams.set('host', directory)
  const viaSocket = connectDb({ url: url.toString(), poolSize: 1 })
  try {
    // A Unix-socket session has no client address; a TCP one does.
    const [{ address }] = await viaSocket<{ address: string | null }[]>`select inet_client_addr()::text as address`.catch((error) => {
      // pg_hba may treat local connections apart (Debian's default: peer): not ours to judge.
      if (['28000', '28P01'].includes((error as { code?: string }).code ?? '')) return [{ address: 'refused' }]
      throw error
    })
    if (address === 'refused') return t.skip('pg_hba refuses this user over the Unix socket')
    assert.equal(address, null)
  } finally {
    await viaSocket.end()
  }
})
