import helmet from 'helmet'
import type { IncomingMessage, ServerResponse } from 'node:http'

const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  imgSrc: ["'self'", 'data:', 'https:'],
  scriptSrc: ["'self'", "'unsafe-inline'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  // Plain-HTTP deployments (a newcomer's machine, behind a TLS-terminating proxy) must keep working.
  upgradeInsecureRequests: null,
}

/**
 * helmet's security headers, computed once. They do not depend on the request, and
 * building them per request (CSP parsing included) cost ~5 % of a cached product read.
 */
export function securityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {}
  const collect = {
    setHeader: (name: string, value: string) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  } as unknown as ServerResponse
  helmet({ contentSecurityPolicy: { directives: CSP_DIRECTIVES } })({} as IncomingMessage, collect, () => {})
  return headers
}
