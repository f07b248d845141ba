import type { FastifyReply } from 'fastify'
import type { App } from '../../platform/http/server.ts'
import { SearchUnavailable } from './breaker.ts'
import type { Suggestion } from './engine.ts'
import { SearchAnswer, SearchQuery, SuggestAnswer, SuggestQuery, type SearchAnswerT, type SearchQueryInput } from './schemas.ts'

export interface SearchForRoutes {
  search(query: SearchQueryInput): Promise<SearchAnswerT>
  suggest(prefix: string, limit: number): Promise<Suggestion[]>
}

// Popular searches are worth caching at a CDN for a short while; the index itself lags
// the catalog by about one outbox dispatch anyway.
const SEARCH_CACHE_CONTROL = 'public, max-age=15'
const SUGGEST_CACHE_CONTROL = 'public, max-age=60'

/** A refused search tells the client when to come back. */
async function withRetryAfter<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof SearchUnavailable) reply.header('retry-after', String(error.retryAfterSeconds))
    throw error
  }
}

export function searchRoutes(search: SearchForRoutes) {
  return async (app: App) => {
    app.get('/store/search', { config: { ownDeadline: true, cleansQueryText: true }, schema: { tags: ['search'], querystring: SearchQuery, response: { 200: SearchAnswer } } }, async (request, reply) => {
      const answer = await withRetryAfter(reply, () => search.search(request.query))
      reply.header('cache-control', SEARCH_CACHE_CONTROL)
      return answer
    })

    app.get('/store/search/suggest', { config: { ownDeadline: true, cleansQueryText: true }, schema: { tags: ['search'], querystring: SuggestQuery, response: { 200: SuggestAnswer } } }, async (request, reply) => {
      const items = await withRetryAfter(reply, () => search.suggest(request.query.q, request.query.limit ?? 8))
      reply.header('cache-control', SUGGEST_CACHE_CONTROL)
      return { items }
    })
  }
}
