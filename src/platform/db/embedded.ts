import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

// The embedded default: PGlite served over the Postgres wire protocol on loopback,
// so the platform keeps one SQL code path (postgres.js) for both modes.
export interface EmbeddedPostgres {
  url: string
  stop(): Promise<void>
}

export async function startEmbeddedPostgres(dataDir: string | null): Promise<EmbeddedPostgres> {
  if (dataDir) mkdirSync(dataDir, { recursive: true })
  const db = await PGlite.create(dataDir ?? undefined, { extensions: { pg_trgm } })
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1' })
  await server.start()
  const [host, port] = server.getServerConn().split(':')
  return {
    url: `postgres://postgres@${host}:${port}/postgres`,
    async stop() {
      await server.stop()
      await db.close()
    },
  }
}
