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
 * longer opens. A lock file holding the owner's pid (and, where the OS tells, when it
 * started) is created exclusively; one left behind by a process that is gone (kill -9) is
 * taken over, and so is one whose pid another process has since been given (after a reboot
 * or a container restart pids start over: the shop refused to start until someone deleted
 * the file). Answers the release.
 */
function lockDataDir(dataDir: string): () => void {
  const file = join(dataDir, 'shop.lock')
  const mine = `${process.pid} ${startOf(process.pid) ?? ''}`.trim()
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
    const [pid, started] = readOrEmpty(file).trim().split(' ')
    const owner = Number(pid)
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner) && sameStart(owner, started)) throw new DataDirInUse(dataDir, owner)
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

/**
 * When process `pid` started, as Linux tells it (the boot's id and the start time in clock
 * ticks since boot, /proc): null where the OS does not say.
 */
function startOf(pid: number): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command (which may hold spaces, in parentheses); starttime is the 22nd.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return `${boot}:${fields[19]}`
  } catch {
    return null
  }
}

/** Whether live process `pid` is the one that wrote the lock (unknown either side: taken to be). */
function sameStart(pid: number, recorded: string | undefined): boolean {
  if (!recorded) return true
  const now = startOf(pid)
  return now === null || now === recorded
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
