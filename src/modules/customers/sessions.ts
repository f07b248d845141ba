import { createHash, randomBytes } from 'node:crypto'
import type { Kv } from '../../platform/kv/types.ts'
import type { Session } from '../../platform/http/auth.ts'

export const SESSION_TTL_MS = 7 * 24 * 3600_000

// Only a hash of the token is stored: a KV dump does not hand out live sessions.
const keyOf = (token: string) => `session:${createHash('sha256').update(token).digest('hex')}`

type StoredSession = Omit<Session, 'sessionKey'>

export function createSessionStore(kv: Kv) {
  return {
    /** A new opaque token of 256 random bits. */
    async create(session: StoredSession): Promise<string> {
      const token = randomBytes(32).toString('base64url')
      await kv.set(keyOf(token), JSON.stringify(session), { ttlMs: SESSION_TTL_MS })
      return token
    },

    async resolve(token: string): Promise<Session | null> {
      if (token.length > 200) return null
      const key = keyOf(token)
      const stored = await kv.get(key)
      if (!stored) return null
      return { ...(JSON.parse(stored) as StoredSession), sessionKey: key }
    },

    async revoke(token: string): Promise<void> {
      await kv.del(keyOf(token))
    },
  }
}

export type SessionStore = ReturnType<typeof createSessionStore>
