import { createConnection, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy in front of a real server, so a test can take the server away from one
 * app (cut) and give it back (restore) without stopping the shared server itself, or
 * make it hang: requests still arrive, answers are held back until unhang (a stalled
 * network or a server that stopped answering, with nothing lost).
 */
export interface TcpProxy {
  port: number
  cut(): Promise<void>
  restore(): Promise<void>
  hang(): void
  unhang(): void
  /** Bytes passed on to the server so far: whether a client sent anything at all. */
  bytesToServer(): number
  close(): Promise<void>
}

/**
 * A proxy in front of the server `url` names, and the same URL through the proxy:
 * `proxyFor(process.env.REDIS_URL, 6379)` for an app that should lose only its own Redis.
 */
export async function proxyFor(url: string, defaultPort: number): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(url)
  const proxy = await startTcpProxy(target.hostname, Number(target.port || defaultPort))
  const viaProxy = new URL(url)
  viaProxy.hostname = '127.0.0.1'
  viaProxy.port = String(proxy.port)
  return { proxy, url: viaProxy.toString() }
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const pairs = new Set<{ client: Socket; upstream: Socket }>()
  let server: Server | null = null
  let port = 0
  let hanging = false
  let bytesToServer = 0

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = createConnection({ host: targetHost, port: targetPort })
        const pair = { client, upstream }
        pairs.add(pair)
        for (const s of [client, upstream]) {
          sockets.add(s)
          s.on('close', () => {
            sockets.delete(s)
            pairs.delete(pair)
          })
          s.on('error', () => {
            client.destroy()
            upstream.destroy()
          })
        }
        client.on('data', (chunk: Buffer) => (bytesToServer += chunk.length))
        client.pipe(upstream)
        if (!hanging) upstream.pipe(client)
      })
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port
        resolve()
      })
    })

  const cut = async () => {
    const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    for (const s of sockets) s.destroy()
    await closing
    server = null
  }

  await listen()
  return {
    port,
    cut,
    restore: listen,
    hang() {
      hanging = true
      // Unpiped, the server's answers wait in the socket's buffer, in order.
      for (const { client, upstream } of pairs) upstream.unpipe(client)
    },
    unhang() {
      hanging = false
      for (const { client, upstream } of pairs) upstream.pipe(client)
    },
    bytesToServer: () => bytesToServer,
    close: cut,
  }
}
