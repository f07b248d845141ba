import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyCorrections, cleanText, editsOf, parseText, prefixKey, prefixQuery, wordsOf } from './query-text.ts'

test('the last bare word becomes a prefix while it may still be typed', () => {
  assert.deepEqual(parseText('waterproof boo'), { head: 'waterproof', prefix: 'boo' })
  assert.deepEqual(parseText('boo'), { head: '', prefix: 'boo' })
  assert.deepEqual(parseText('waterproof boot '), { head: 'waterproof boot', prefix: null }, 'a space ends the word')
  assert.deepEqual(parseText('"hiking bo'), { head: '"hiking bo', prefix: null }, 'inside an open phrase')
  assert.deepEqual(parseText('boot -wat'), { head: 'boot -wat', prefix: null }, 'an exclusion is a whole word')
  assert.deepEqual(parseText('boot b'), { head: 'boot', prefix: null }, 'one letter just typed is too short to expand, and narrows nothing yet')
  assert.deepEqual(parseText('b'), { head: 'b', prefix: null }, 'alone it is the query')
  assert.deepEqual(parseText('t-s'), { head: 't-s', prefix: null }, 'part of a hyphenated word stays')
  assert.deepEqual(parseText('boot:*'), { head: 'boot:*', prefix: null })
  assert.deepEqual(parseText('über'), { head: '', prefix: 'über' })
  assert.deepEqual(parseText('boot or tent'), { head: 'boot or tent', prefix: null }, 'after "or": the word is an alternative')
  assert.deepEqual(parseText('boot OR te'), { head: 'boot OR te', prefix: null })
  assert.deepEqual(parseText('color te'), { head: 'color', prefix: 'te' }, 'a word ending in "or" is just a word')
  assert.deepEqual(parseText('cotton t-sh'), { head: 'cotton t', prefix: 'sh' }, 'the last part of a hyphenated word')
  assert.deepEqual(parseText('flip-flo'), { head: 'flip', prefix: 'flo' })
  assert.deepEqual(parseText('boot -flip-fl'), { head: 'boot -flip-fl', prefix: null }, 'an excluded hyphenated word is whole too')
})

test('only letters and digits ever become tsquery syntax', () => {
  assert.equal(prefixQuery('boo'), 'boo:*')
  for (const bad of ["a'b", 'a:*', 'a|b', 'a b', '', '!a']) assert.throws(() => prefixQuery(bad))
})

test('text is cleaned of control characters and extra spaces', () => {
  assert.equal(cleanText('  a\u0000b\t\n c  '), 'a b c')
  assert.equal(prefixKey('  Trail  Bo'), 'trail bo')
  assert.equal(prefixKey('trail '), 'trail ')
})

test('words for correction and their replacement keep the rest as typed', () => {
  assert.deepEqual(wordsOf('Trialrunner "hiking" -x boots boots'), ['trialrunner', 'hiking', 'boots'])
  assert.equal(applyCorrections('Trialrunner -boots "x"', new Map([['trialrunner', 'trailrunner']])), 'trailrunner -boots "x"')
})

test('editsOf: every word one swap, drop, change or addition away, 3 letters or longer, each once', () => {
  const edits = editsOf('tnet')
  const words = edits.map((e) => e.word)
  assert.equal(new Set(words).size, words.length, 'no word twice')
  assert.deepEqual(edits.find((e) => e.word === 'tent'), { word: 'tent', swap: true })
  assert.deepEqual(edits.find((e) => e.word === 'net'), { word: 'net', swap: false }, 'a letter dropped')
  assert.ok(words.includes('tnets') && words.includes('tbet'), 'a letter added, a letter changed')
  assert.ok(!words.includes('tnet'), 'not the word itself')
  assert.ok(words.every((w) => w.length >= 3))
  // 3 swaps + 4 drops + 4 x 35 changes + 5 x 36 additions, less the ones reached twice.
  assert.ok(words.length > 250 && words.length < 330, String(words.length))
  assert.ok(!editsOf('abc').some((e) => e.word.length < 3), 'dropping a letter of a 3-letter word leaves nothing to look up')
  assert.deepEqual(editsOf('aab').filter((e) => e.swap).map((e) => e.word), ['aba'], 'swapping two equal letters changes nothing')
})
