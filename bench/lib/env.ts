/** A whole number from the environment, or the default; exits with a clear message on a bad value. */
export function intFromEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name]?.trim()
  if (!raw) return fallback
  const value = Number(raw.replace(/_/g, ''))
  if (!Number.isSafeInteger(value) || value < min) {
    console.error(`bench: ${name} must be a whole number >= ${min}, got "${raw}"`)
    process.exit(2)
  }
  return value
}
