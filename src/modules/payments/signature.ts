// Webhook signatures, Stripe style: `Shop-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`
// over `${t}.${raw body}`. The timestamp is signed too, so a captured delivery cannot be
// replayed later than the tolerance; the receiver compares in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto'

export const SIGNATURE_HEADER = 'shop-signature'
/** Deliveries older (or further in the future) than this are refused: 5 minutes. */
export const DEFAULT_TOLERANCE_SECONDS = 300

export function signatureHeader(secret: string, body: string, timestampSeconds = Math.floor(Date.now() / 1000)): string {
  return `t=${timestampSeconds},v1=${hmac(secret, timestampSeconds, body)}`
}

export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'mismatch' }

export function verifySignature(
  secret: string,
  header: string | undefined,
  body: string,
  options: { toleranceSeconds?: number; nowSeconds?: number } = {},
): SignatureCheck {
  if (!header) return { ok: false, reason: 'missing' }
  const parts = header.split(',').map((part) => part.trim().split('='))
  const t = parts.find(([name]) => name === 't')?.[1]
  // Several v1 values may be present while a secret is being rotated: any match counts.
  const signatures = parts.filter(([name, value]) => name === 'v1' && /^[0-9a-f]{64}$/.test(value ?? '')).map(([, value]) => value!)
  if (!t || !/^\d{1,12}$/.test(t) || signatures.length === 0) return { ok: false, reason: 'malformed' }
  const timestamp = Number(t)
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS)) return { ok: false, reason: 'expired' }
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex')
  const matches = signatures.some((signature) => timingSafeEqual(Buffer.from(signature, 'hex'), expected))
  return matches ? { ok: true, timestamp } : { ok: false, reason: 'mismatch' }
}

function hmac(secret: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')
}
