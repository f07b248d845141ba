/**
 * One error type for expected failures, with a stable machine `code`; one table that maps
 * codes to HTTP status. Domain code throws AppError and never thinks about HTTP.
 */
export interface FieldError {
  path: string
  message: string
}

const STATUS_BY_CODE: Record<string, number> = {
  validation_failed: 400,
  unauthorized: 401,
  payment_declined: 402,
  forbidden: 403,
  not_live: 403,
  not_found: 404,
  conflict: 409,
  out_of_stock: 409,
  limit_reached: 409,
  price_changed: 409,
  request_in_progress: 409,
  sold_out: 410,
  idempotency_conflict: 422,
  too_many_requests: 429,
  unavailable: 503,
}

const TITLE_BY_CODE: Record<string, string> = {
  validation_failed: 'Your request is not valid',
  unauthorized: 'Sign in first',
  forbidden: 'Not allowed',
  not_found: 'Not found',
  conflict: 'Conflict',
  too_many_requests: 'Too many requests',
  unavailable: 'Service unavailable',
}

export class AppError extends Error {
  readonly status: number
  constructor(
    readonly code: string,
    detail: string,
    readonly extra: Record<string, unknown> = {},
    status?: number,
  ) {
    super(detail)
    this.name = 'AppError'
    this.status = status ?? STATUS_BY_CODE[code] ?? 400
  }

  get title(): string {
    return TITLE_BY_CODE[this.code] ?? this.code.replace(/_/g, ' ')
  }
}

/** Retry-After for a wait of `ms`: whole seconds, rounded up, at least one. */
export const retryAfterSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000))

export const notFound = (what: string) => new AppError('not_found', `${what} was not found`)

/**
 * Characters no line of text holds: C0 and C1 controls and DEL (a NUL PostgreSQL refuses, a
 * bell, a terminal escape, NEL), the line and paragraph separators, and the bidirectional
 * overrides and isolates, which make an address or a name display as something it is not
 * ("a\u202Eed.x@b" shows as another address).
 */
const INVISIBLE = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069'

/** Characters that take no room: zero-width space, non-joiner, joiner, word joiner, BOM. */
const ZERO_WIDTH = '\\u200b-\\u200d\\u2060\\ufeff'

/** Patterns the schemas share, said in words rather than as the regular expression (fieldErrorsOf). */
export const PATTERNS = {
  notBlank: '\\S',
  /**
   * An http(s) URL with a host (a name, or an IPv6 literal in brackets), a port within 1-65535
   * if any, and no user in it: "http://", "https://x:99999/" and "http://a@b:c/" passed the
   * `uri` format, and a storefront was given images that could never load.
   */
  httpUrl: '^https?://(?:[^/?#\\s@:\\[\\]]+|\\[[0-9A-Fa-f:.]+\\])(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?(?:[/?#]|$)',
  /**
   * Something@something.tld, spaces around allowed (trimmed); any script: an address like
   * ünï@exämple.com is an address. No control characters. Written so that a string has one
   * way to match (the domain's labels cannot hold their dots): an engine that backtracks took
   * 4 s over an 80 KB "a@b.b.b.…@" with the looser form, ajv checks the pattern even when
   * maxLength already failed, and a request body may be a megabyte.
   */
  email: `^\\s*[^@\\s${INVISIBLE}]+@[^@\\s${INVISIBLE}.]+(?:\\.[^@\\s${INVISIBLE}.]+)+\\s*$`,
  /** No control characters: PostgreSQL refuses a NUL in text (a 500 otherwise), and none belongs in a name. */
  noControl: `^[^${INVISIBLE}]*$`,
  /**
   * One line of text (a name, an address line): not blank, no control characters (no line
   * breaks, no terminal escapes). Zero-width characters alone are blank too ("\u200b" was a
   * product's whole name); within text they stay (Persian and Indic writing needs ZWNJ/ZWJ).
   */
  line: `^(?=[^${INVISIBLE}]*$)[\\s${ZERO_WIDTH}]*[^\\s${ZERO_WIDTH}]`,
  /**
   * A row id as the database writes it: digits, no leading zero, within a bigint. PostgreSQL
   * reads '0644' as 644, but caches and the checks that compare ids as text do not: an admin
   * write to '0644' changed product 644 and cleared the cache entry of '0644', and the store
   * served the old product (deleted, even) from the cache for 30 minutes.
   */
  id: '^[1-9][0-9]{0,17}$',
  /** A category as a slug path ('apparel', 'apparel/shirts'): the catalog's and the search filter's. */
  categoryPath: '^[a-z0-9]+(?:-[a-z0-9]+)*(?:/[a-z0-9]+(?:-[a-z0-9]+)*){0,5}$',
} as const
const ROW_ID = new RegExp(PATTERNS.id)
/** Whether `id` is a row id as the database writes it (PATTERNS.id): a path's id is checked with it before any query. */
export const isRowId = (id: string) => ROW_ID.test(id)

export const PATTERN_MESSAGES: Record<string, string> = {
  [PATTERNS.notBlank]: 'must not be blank',
  [PATTERNS.httpUrl]: 'must be an http or https URL with a host (and no user or bad port in it)',
  [PATTERNS.email]: 'is not an e-mail address',
  [PATTERNS.noControl]: 'must not contain control characters',
  [PATTERNS.line]: 'must not be blank or contain control characters',
  [PATTERNS.id]: 'is not an id this API gave out',
  [PATTERNS.categoryPath]: "must be a category's slug path: lowercase letters, digits and hyphens, levels split by '/' (apparel/shirts)",
}

/**
 * At most this many fields are named in one answer: a body of 4,000 unknown keys answered
 * 434 KB (each named twice), seven times the request, and a few such requests a second made
 * the server shed load.
 */
export const MAX_FIELD_ERRORS = 20

export const validationFailed = (all: FieldError[]) => {
  const errors = all.slice(0, MAX_FIELD_ERRORS)
  const more = all.length - errors.length
  const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ') + (more > 0 ? `; and ${more} more` : '')
  return new AppError('validation_failed', detail, { errors })
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  code: string
  [extra: string]: unknown
}

export function problemOf(error: AppError, instance?: string): ProblemBody {
  return {
    type: `https://shop.dev/problems/${error.code.replace(/_/g, '-')}`,
    title: error.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(instance ? { instance } : {}),
    ...error.extra,
  }
}
