import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
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
  if (dataDir) {
    try {
      mkdirSync(dataDir, { recursive: true })
    } catch (error) {
      throw new DataDirUnusable(dataDir, error as NodeJS.ErrnoException)
    }
  }
  const unlock = dataDir ? lockDataDir(dataDir) : () => {}
  try {
    const db = await PGlite.create(dataDir ?? undefined, { extensions: { pg_trgm } })
    const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1' })
    await server.start()
    const [host, port] = server.getServerConn().split(':')
    return {
      url: `postgres://postgres@${host}:${port}/postgres`,
      async stop() {
        await server.stop()
        await db.close()
        unlock()
      },
    }
  } catch (error) {
    unlock()
    throw error
  }
}

/** The data folder cannot be made or written (a file in its way, no permission, a read-only disk): a setting to fix. */
export class DataDirUnusable extends Error {
  constructor(dataDir: string, cause: NodeJS.ErrnoException) {
    super(`${dataDir} cannot hold the embedded database (${cause.code ?? cause.message}): give DATA_DIR a folder this process may write`)
    this.name = 'DataDirUnusable'
  }
}

/** Another live process holds the data folder. */
export class DataDirInUse extends Error {
  constructor(dataDir: string, pid: number) {
    super(`The embedded database in ${dataDir} is in use by another shop process (pid ${pid}). Stop it first, or give this one its own DATA_DIR.`)
    this.name = 'DataDirInUse'
  }
}

/**
 * One process per data folder. PGlite takes no lock of its own, and two processes on one
 * folder hand out the same ids and lose each other's writes, or leave a folder that no
 * longer opens. A lock file holding the owner's pid is created exclusively; one left behind
 * by a process that is gone (kill -9) is taken over. Answers the release.
 */
function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, 'shop.lock')
  const mine = String(process.pid)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, mine, { flag: 'wx' })
      return () => {
        try {
          if (readFileSync(file, 'utf8') === mine) unlinkSync(file)
        } catch {
          // Gone already: nothing to release.
        }
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new DataDirUnusable(dataDir, error as NodeJS.ErrnoException)
    }
    const owner = Number(readOrEmpty(file))
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) throw new DataDirInUse(dataDir, owner)
    try {
      unlinkSync(file) // left by a process that is gone
    } catch {
      // Another start took it over first: try again.
    }
  }
  throw new Error(`could not lock ${file}`)
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
