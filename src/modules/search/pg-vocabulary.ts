// Reads of search.terms, the vocabulary kept in step with the documents (pg-index.ts):
// spelling corrections from its words, completions from its names and brands.
import type { Db } from '../../platform/db/index.ts'
import { transaction } from '../../platform/db/transaction.ts'
import type { Correction, Suggestion } from './engine.ts'
import { applyCorrections, editsOf, lowerLikePostgres, MAX_EDITED_LENGTH, parseText, prefixKey, wordsOf } from './query-text.ts'

interface CorrectionRow {
  word: string
  known: boolean
  nearest: string | null
}

/** correctWords' statement: $1 one-edit neighbours, $2 their word's position, $3 1 for a swap, $4 the words, $5 the prefix word. */
const CORRECTIONS = `
  with one_edit as materialized (
    -- A join, not term_key = any(...): given the array, the planner probes the trigram index.
    select t.term_key, t.products from unnest($1::text[]) as e(word)
    join search.terms t on t.kind = 'word' and t.term_key = e.word and t.products > 0
  )
  select w.word, known.yes as known,
    case when known.yes then null else coalesce(
      (select e.word from unnest($1::text[], $2::int[], $3::int[]) as e(word, n, swap)
       join one_edit t on t.term_key = e.word
       where e.n = w.n
       order by e.swap desc, t.products desc, e.word limit 1),
      (select t.term_key from search.terms t
       where t.kind = 'word' and t.products > 0 and t.term_key % w.word
       order by similarity(t.term_key, w.word) desc, t.products desc, t.term_key limit 1))
    end as nearest
  from unnest($4::text[]) with ordinality as w(word, n)
  cross join lateral (select
    numnode(plainto_tsquery('english', w.word)) = 0
    or exists (select 1 from search.terms t where t.kind = 'word' and t.term_key = w.word and t.products > 0)
    or exists (select 1 from search.terms t, (select (ts_lexize('english_stem', w.word))[1] as stem) s
               where t.kind = 'word' and t.products > 0
                 and t.term_key >= s.stem and t.term_key < s.stem || chr(1114111)
                 and (ts_lexize('english_stem', t.term_key))[1] = s.stem)
    -- The last word may still be being typed: known when a known word starts with what was
    -- typed ("ser" -> serum). Not with its stem: "bots" (stem "bot") would be known by "bottle".
    or (w.word = $5 and exists (select 1 from search.terms t where t.kind = 'word' and t.products > 0
                                  and t.term_key >= w.word and t.term_key < w.word || chr(1114111))) as yes
  ) known
  order by w.n`

/**
 * A word is known when it is in the vocabulary, or a vocabulary word has its English stem
 * ("boots" -> boot), or, for the last word (matched as a prefix while typing), starts with
 * it ("ser" -> serum); stop words are left alone. Any other word is matched whole, so
 * "hikin boot" is a typo although "hiking" starts with "hikin". An unknown word gets a
 * vocabulary word one edit away (editsOf: a swap first, then the most common), else the most
 * similar one (pg_trgm %), if one is similar enough. A word the vocabulary lacks but some
 * description holds is known too (wordsInDescriptions). Each one-edit neighbour is one
 * lookup (a few hundred per word, in one hash join), and corrections run only when a search
 * found almost nothing.
 */
export async function correctWords(db: Db, text: string): Promise<Correction> {
  const words = wordsOf(text)
  if (words.length === 0) return { allWordsKnown: true, corrected: null }
  const edits = words.flatMap((word, i) => ([...word].length <= MAX_EDITED_LENGTH ? editsOf(word).map((edit) => ({ ...edit, n: i + 1 })) : []))
  const editWords = edits.map((e) => e.word)
  const prefix = parseText(text).prefix
  const prefixWord = prefix === null ? null : lowerLikePostgres(prefix)
  const parameters = [editWords, edits.map((e) => e.n), edits.map((e) => (e.swap ? 1 : 0)), words, prefixWord]
  // Planned for its arrays each time (an unnamed statement): the generic plan of a prepared
  // one guesses ten neighbours and probes the index for each, 4.5 ms against 0.7 at 1 M.
  const rows = await db.unsafe<CorrectionRow[]>(CORRECTIONS, parameters, { prepare: false })
  // The vocabulary holds the words of names, brands and categories. A word it lacks may
  // still be in descriptions ("compact collar"): a word, not a typo, so no near spellings
  // are searched and none is suggested.
  const unknown = rows.filter((r) => !r.known).map((r) => r.word)
  const described = unknown.length > 0 ? await wordsInDescriptions(db, unknown) : new Set<string>()
  for (const row of rows) {
    if (described.has(row.word)) Object.assign(row, { known: true, nearest: null })
  }
  const corrections = new Map(rows.filter((r) => r.nearest).map((r) => [r.word, r.nearest!]))
  return {
    allWordsKnown: rows.every((r) => r.known),
    corrected: corrections.size > 0 ? applyCorrections(text, corrections).trim() : null,
  }
}

/**
 * Which of `words` some document holds (in any part, descriptions included). A word among
 * the table's most common lexemes (its statistics) is answered from those. Any other is
 * looked up in the full-text index alone (enable_seqscan off, for this transaction only):
 * the planner would look for a word no document holds row by row over the whole table,
 * seconds at 1 M products, where the index answers at once. (For a common word the index
 * reads its whole posting list first: "designed" took 50 ms at 1 M; the statistics, none.)
 */
async function wordsInDescriptions(db: Db, words: string[]): Promise<Set<string>> {
  const find = async (tx: Db) => {
    await tx`select set_config('enable_seqscan', 'off', true)`
    const rows = await tx<{ word: string }[]>`
      with common as (
        select coalesce((select most_common_elems::text::text[] from pg_stats
                         where schemaname = 'search' and tablename = 'documents' and attname = 'document'), '{}') as lexemes
      )
      select w.word from unnest(${words}::text[]) as w(word), common
      where tsvector_to_array(to_tsvector('english', w.word)) && common.lexemes
         or exists (select 1 from search.documents d where d.document @@ plainto_tsquery('english', w.word))`
    await tx`select set_config('enable_seqscan', 'on', true)`
    return rows
  }
  const rows = 'begin' in db ? await transaction(db, find) : await find(db)
  return new Set(rows.map((r) => r.word))
}

/**
 * Brands, then names, that start with `prefix`. Names are ranked by how many products carry
 * them among the first alphabetical matches, so a keystroke reads a short primary-key range
 * ("C" collation: LIKE 'prefix%' is an index range).
 */
export async function suggestTerms(db: Db, prefix: string, limit: number): Promise<Suggestion[]> {
  const key = prefixKey(prefix)
  if (key.trim() === '') return []
  const pattern = key.replace(/[\\%_]/g, '\\$&') + '%'
  const rows = await db<Suggestion[]>`
    select kind, term as text from (
      (select kind, term, term_key, products from search.terms
       where kind = 'brand' and term_key like ${pattern} and products > 0 order by term_key limit 3)
      union all
      (select kind, term, term_key, products from search.terms
       where kind = 'name' and term_key like ${pattern} and products > 0 order by term_key limit 50)
    ) candidates
    order by kind = 'brand' desc, products desc, term_key
    limit ${limit}`
  return rows.map((r) => ({ text: r.text, kind: r.kind }))
}
