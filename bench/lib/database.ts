// Scratch databases on the DATABASE_URL server, for the benchmark's own use.
import { connectDb } from '../../src/platform/db/index.ts'
import { createDatabaseIfMissing } from '../../src/platform/db/create-database.ts'

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

async function onServer(serverUrl: string, statement: string): Promise<void> {
  const admin = connectDb({ url: serverUrl, poolSize: 1 })
  try {
    await admin.unsafe(statement)
  } finally {
    await admin.end({ timeout: 5 })
  }
}

/** Drops (if it exists) and creates database `name`; answers its URL. */
export async function recreateDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`)
  await onServer(serverUrl, `drop database if exists ${name} with (force)`)
  await onServer(serverUrl, `create database ${name}`)
  return withDatabase(serverUrl, name)
}

/** Creates database `name` unless it exists; answers its URL. */
export async function ensureDatabase(serverUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`)
  const url = withDatabase(serverUrl, name)
  await createDatabaseIfMissing(url)
  return url
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`)
  await onServer(serverUrl, `drop database if exists ${name} with (force)`)
}
