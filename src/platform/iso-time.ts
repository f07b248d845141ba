/**
 * Whether `text` (ISO 8601 in UTC, as the API writes it in cursors) is a time PostgreSQL
 * reads as written: a real calendar date and time from year 1. Date.parse also takes
 * 2026-02-30 and 24:00 (rolling them over) and year 0, which PostgreSQL refuses: a 500
 * where a forged cursor deserves a 400.
 */
export function isReadableUtcTime(text: string): boolean {
  const parsed = new Date(text)
  if (Number.isNaN(parsed.getTime()) || text.startsWith('0000')) return false
  // Rolled over (Feb 30 -> Mar 2, 24:00 -> the next day): the fields read back differ.
  return parsed.toISOString().slice(0, 19) === text.slice(0, 19)
}
