import { spawn, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface ShopProcess {
  child: ChildProcess
  url: string
  output(): string
  exited: Promise<number | null>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Runs `src/main.ts <role>` as a real child process with exactly the given environment;
 * answers once /health/ready says 200 (`until: 'answering'`: once it answers at all).
 */
export async function spawnShop(role: string, env: Record<string, string>, readyTimeoutMs = 120_000, until: 'ready' | 'answering' = 'ready'): Promise<ShopProcess> {
  const port = Number(env.PORT ?? (await freePort()))
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    // No load shedding unless a test asks for it: test files run side by side on 2 cores.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', MAX_EVENT_LOOP_DELAY_MS: '0', ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + readyTimeoutMs
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${role} exited with ${child.exitCode}:\n${output}`)
    try {
      const res = await fetch(`${url}/health/ready`)
      if (res.status === 200 || until === 'answering') break
    } catch {}
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`${role} not ready in ${readyTimeoutMs} ms:\n${output}`)
    }
    await sleep(200)
  }
  return {
    child,
    url,
    output: () => output,
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}
