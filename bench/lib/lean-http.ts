// A lean HTTP/1.1 client for the bench's load generators: keep-alive sockets that write
// prebuilt requests and read the status line and Content-Length of each answer (and its body,
// for a flow that needs it: the checkout's cart id). The
// load generator shares the cores with the servers it measures: undici's pool spent about
// 0.25 ms of CPU per search request, a twentieth of what a search costs the servers, and
// that share turns into queueing in an open loop.
import { connect, type Socket } from 'node:net'

/** An answer: its status, and its body as text (empty unless asked for). */
export interface LeanAnswer {
  status: number
  body: string
}

interface Job {
  raw: Buffer
  /** HEAD: the answer has headers only, whatever its Content-Length says. */
  head: boolean
  /** Decode the body (the open loop only counts answers). */
  withBody: boolean
  resolve: (answer: LeanAnswer) => void
  reject: (error: Error) => void
}

const HEADER_END = Buffer.from('\r\n\r\n')
const CONTENT_LENGTH = /\r\ncontent-length:[ \t]*(\d+)/i

/** Serializes one request once, to be written as many times as it is sent. */
export function rawRequest(host: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, `host: ${host}`]
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body)
  if (body !== undefined || method !== 'GET') lines.push(`content-length: ${payload.length}`)
  return Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n'), payload])
}

class LeanConnection {
  private readonly socket: Socket
  private job: Job | null = null
  private buffer: Buffer | null = null
  private expected = -1
  private bodyStart = 0
  private status = 0

  constructor(private readonly pool: LeanPool, port: number, host: string) {
    this.socket = connect(port, host)
    this.socket.setNoDelay(true)
    this.socket.on('data', (chunk: Buffer) => this.received(chunk))
    this.socket.on('error', () => this.drop(new Error('connection error')))
    this.socket.on('close', () => this.drop(new Error('connection closed')))
  }

  send(job: Job): void {
    this.job = job
    this.buffer = null
    this.expected = -1
    this.socket.write(job.raw)
  }

  destroy(): void {
    this.socket.destroy()
  }

  private received(chunk: Buffer): void {
    this.buffer = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk
    if (this.expected < 0) {
      const end = this.buffer.indexOf(HEADER_END)
      if (end < 0) return
      const head = this.buffer.toString('latin1', 0, end)
      this.status = Number(head.slice(9, 12))
      const bodiless = this.job?.head || this.status === 204 || this.status === 304 || this.status < 200
      const length = bodiless ? null : CONTENT_LENGTH.exec(head)
      if (!bodiless && !length) return this.drop(new Error('an answer without content-length (chunked answers are not read)'))
      this.bodyStart = end + HEADER_END.length
      this.expected = this.bodyStart + (length ? Number(length[1]) : 0)
    }
    if (this.buffer.length < this.expected || !this.job) return
    const job = this.job
    const body = job.withBody ? this.buffer.toString('utf8', this.bodyStart, this.expected) : ''
    this.job = null
    this.pool.released(this)
    job.resolve({ status: this.status, body })
  }

  private drop(error: Error): void {
    const job = this.job
    this.job = null
    this.socket.destroy()
    this.pool.dropped(this)
    job?.reject(error)
  }
}

/** Up to `connections` sockets; requests beyond them wait for a free one, in order. */
export class LeanPool {
  private readonly idle: LeanConnection[] = []
  private readonly all = new Set<LeanConnection>()
  private readonly waiting: Job[] = []
  private closed = false

  constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly connections: number,
  ) {}

  /** Sends a request made by rawRequest; answers the status code. */
  async request(raw: Buffer): Promise<number> {
    return (await this.send(raw, false)).status
  }

  /** Sends a request made by rawRequest; answers the status and the body. */
  answer(raw: Buffer): Promise<LeanAnswer> {
    return this.send(raw, true)
  }

  private send(raw: Buffer, withBody: boolean): Promise<LeanAnswer> {
    return new Promise((resolve, reject) => {
      const job = { raw, head: raw.subarray(0, 5).toString('latin1') === 'HEAD ', withBody, resolve, reject }
      const connection = this.idle.pop() ?? (this.all.size < this.connections ? this.open() : null)
      if (connection) connection.send(job)
      else this.waiting.push(job)
    })
  }

  released(connection: LeanConnection): void {
    const next = this.waiting.shift()
    if (next) connection.send(next)
    else this.idle.push(connection)
  }

  dropped(connection: LeanConnection): void {
    if (!this.all.delete(connection)) return
    const index = this.idle.indexOf(connection)
    if (index >= 0) this.idle.splice(index, 1)
    const next = this.closed ? undefined : this.waiting.shift()
    if (next) this.open().send(next)
  }

  close(): void {
    this.closed = true
    for (const job of this.waiting.splice(0)) job.reject(new Error('pool closed'))
    for (const connection of [...this.all]) connection.destroy()
  }

  private open(): LeanConnection {
    const connection = new LeanConnection(this, this.port, this.host)
    this.all.add(connection)
    return connection
  }
}
