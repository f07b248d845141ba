// The housekeeping round's rules, with tasks that count (the purges themselves are tested
// against the database next to the tables they trim).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { housekeepingRound, type HousekeepingTask } from './housekeeping.ts'
import { createLogger } from './telemetry/log.ts'

const log = createLogger('silent')

/** A task with `backlog` rows, removing up to `batch` per call. */
function backlogTask(name: string, backlog: number, batch: number): HousekeepingTask & { calls: number } {
  const task = {
    name,
    calls: 0,
    run: async () => {
      task.calls++
      const n = Math.min(batch, backlog)
      backlog -= n
      return n
    },
  }
  return task
}

test('a round works a task batch by batch until it has nothing left', async () => {
  const task = backlogTask('rows', 25, 10)
  assert.deepEqual(await housekeepingRound([task], log), { rows: 25 })
  assert.equal(task.calls, 4, '10 + 10 + 5, then one call that finds nothing')
})

test('a big backlog is spread over rounds: at most 20 batches per task per round', async () => {
  const task = backlogTask('rows', 1000, 10)
  assert.deepEqual(await housekeepingRound([task], log), { rows: 200 })
  assert.deepEqual(await housekeepingRound([task], log), { rows: 200 })
})

test('a failing task is reported and the others still run', async () => {
  const failing: HousekeepingTask = { name: 'broken', run: async () => Promise.reject(new Error('database is away')) }
  const fine = backlogTask('fine', 3, 10)
  assert.deepEqual(await housekeepingRound([failing, fine], log), { broken: 0, fine: 3 })
})

test('asked to stop, a round ends after the batch it is in', async () => {
  const task = backlogTask('rows', 1000, 10)
  let stop = false
  const round = housekeepingRound([{ name: 'rows', run: async () => ((stop = true), task.run()) }], log, () => stop)
  assert.deepEqual(await round, { rows: 10 })
})
