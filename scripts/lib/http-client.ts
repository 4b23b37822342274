import { Agent, request } from 'node:http';

/**
 * The benchmarks' load generator client: node:http over keep-alive connections, lighter on the
 * CPU than fetch, so that the two cores measure the servers more than the client. Every design a
 * benchmark compares goes through this same client.
 */
export class HttpClient {
  private readonly agent: Agent;

  constructor(private readonly maxSockets: number) {
    this.agent = new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
  }

  /**
   * Opens every connection this client may use to `url`'s server (one request each, all at once),
   * so that a timed phase measures requests, not connection setup. Node's libuv (1.45+) accepts
   * one connection per event-loop turn, and a turn of a server under load lasts 25-50 ms: opened
   * inside a timed phase, 150 new connections took 5-8 s to be accepted, and the first flow a
   * bench ran on a fresh server (whichever it was) had a p99 of seconds. Returns the time it took.
   */
  async open(url: string): Promise<number> {
    const t = performance.now();
    await Promise.all(Array.from({ length: this.maxSockets }, () => this.send('GET', url)));
    return performance.now() - t;
  }

  send(
    method: string,
    url: string,
    opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: string }> {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
