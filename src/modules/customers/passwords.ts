import os from 'node:os'
import argon2 from 'argon2'
import { AppError } from '../../platform/http/errors.ts'

// argon2id with the library's defaults (64 MiB, t=3, p=4): OWASP-grade, and costly on
// purpose: tens of ms of CPU and 64 MiB per hash. So hashes are admitted a few at a time
// with a short queue, and past that a sign-in or registration is told to come back (503,
// Retry-After) at once. A flood of them (a marketing mail's morning, or someone's script)
// then costs this process a bounded share of its cores and memory, instead of queuing in
// libuv's thread pool behind which everything else that pool serves waits too.
const limits = { concurrent: Math.max(1, os.availableParallelism()), queue: 32 }
let running = 0
const waiting: (() => void)[] = []

/** Tests: smaller limits, to see the refusal without hundreds of hashes. */
export function setHashingLimits(next: { concurrent: number; queue: number }): void {
  Object.assign(limits, next)
}

async function admitted<T>(work: () => Promise<T>): Promise<T> {
  if (running < limits.concurrent) running++
  else if (waiting.length >= limits.queue) throw new AppError('unavailable', 'Too many sign-ins at once; try again in a moment', { retryAfter: 1 }, 503)
  else await new Promise<void>((resume) => waiting.push(resume)) // the finishing hash hands its slot over
  try {
    return await work()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else running--
  }
}

export function hashPassword(password: string): Promise<string> {
  return admitted(() => argon2.hash(password, { type: argon2.argon2id }))
}

let dummyHash: Promise<string> | null = null

/**
 * Verifies a password. With no stored hash (unknown e-mail) it still runs one argon2
 * verification against a dummy, so an unknown account and a wrong password take equally long.
 */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (storedHash === null) {
    dummyHash ??= argon2.hash('not-a-real-password-' + Math.random(), { type: argon2.argon2id })
    const dummy = await dummyHash
    await admitted(() => argon2.verify(dummy, password).catch(() => false))
    return false
  }
  return admitted(() => argon2.verify(storedHash, password).catch(() => false))
}
