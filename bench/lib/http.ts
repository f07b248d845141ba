const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * GETs every path once, `concurrency` at a time; throws on the first answer that is not 200.
 * A 503 (load shed while caches are cold) is retried after its Retry-After, a few times.
 */
export async function getAll(base: string, paths: string[], concurrency = 16): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++]
      for (let attempt = 1; ; attempt++) {
        const response = await fetch(base + path)
        await response.arrayBuffer()
        if (response.status === 200) break
        if (response.status !== 503 || attempt === 5) throw new Error(`GET ${path} answered ${response.status}`)
        await sleep(Math.min(2000, 1000 * Number(response.headers.get('retry-after') ?? 1)))
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker))
}

/** Polls `url` until it answers 200; gives up after `timeoutMs` or when `alive()` turns false. */
export async function waitFor200(url: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`the process behind ${url} exited (last: ${last})`)
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) })
      await response.arrayBuffer()
      if (response.status === 200) return
      last = `status ${response.status}`
    } catch (error) {
      last = (error as Error).message
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`${url} not ready after ${timeoutMs / 1000} s (last: ${last})`)
}
