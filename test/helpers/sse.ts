import { assertConforms } from './openapi-check.js';

export type SeatEvent = { id: number; seatId: number; status: string };

/** A minimal event-stream reader over fetch (Node has no EventSource). */
export class SseClient {
  readonly events: SeatEvent[] = [];
  /** Events other than `seat` (such as `reload`), as sent. */
  readonly others: { event: string; id?: string; data: string }[] = [];
  comments = 0;
  private readonly controller = new AbortController();
  private done: Promise<void> = Promise.resolve();

  static async open(url: string, token: string, lastEventId?: number): Promise<SseClient> {
    const c = new SseClient();
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
    const res = await fetch(url, { headers, signal: c.controller.signal });
    const u = new URL(url);
    // The stream's status and content type as the document declares them (its body is read below).
    assertConforms({
      method: 'GET',
      url: `${u.pathname}${u.search}`,
      status: res.status,
      headers: res.headers,
      text: res.status === 200 ? undefined : await res.text(),
    });
    if (res.status !== 200 || !res.body) throw new Error(`event stream answered ${res.status}`);
    c.done = c.read(res.body);
    return c;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) this.comments++;
            const i = line.indexOf(': ');
            if (i > 0) fields.set(line.slice(0, i), line.slice(i + 2));
          }
          if (fields.get('event') === 'seat') {
            const data = JSON.parse(fields.get('data')!) as { seatId: number; status: string };
            this.events.push({ id: Number(fields.get('id')), ...data });
          } else if (fields.has('event')) {
            const id = fields.get('id');
            this.others.push({
              event: fields.get('event')!,
              ...(id !== undefined ? { id } : {}),
              data: fields.get('data') ?? '',
            });
          }
        }
      }
    } catch {
      /* aborted */
    }
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}
