import argon2 from 'argon2'

// argon2id with the library's defaults (64 MiB, t=3, p=4): OWASP-grade.
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, { type: argon2.argon2id })
}

let dummyHash: Promise<string> | null = null

/**
 * Verifies a password. With no stored hash (unknown e-mail) it still runs one argon2
 * verification against a dummy, so an unknown account and a wrong password take equally long.
 */
export async function verifyPassword(storedHash: string | null, password: string): Promise<boolean> {
  if (storedHash === null) {
    dummyHash ??= hashPassword('not-a-real-password-' + Math.random())
    await argon2.verify(await dummyHash, password).catch(() => false)
    return false
  }
  return argon2.verify(storedHash, password).catch(() => false)
}
