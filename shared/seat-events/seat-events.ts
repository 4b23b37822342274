import { Op } from 'sequelize';
import { Performance, SeatEvent, type SeatStatus } from '../db/models/index.js';
import type { RedisClient } from '../redis.js';
import { performanceTag } from '../redis.js';
import type { Logger } from '../logger.js';
import { seatEventsDelivered, sseClients } from '../metrics.js';

export type SeatChange = { seq: number; seatId: number; status: SeatStatus };

export function seatEventsChannel(keyPrefix: string, performanceId: number): string {
  return `${keyPrefix}:seat-events:${performanceTag(performanceId)}`;
}

export async function publishSeatEvents(
  redis: RedisClient,
  keyPrefix: string,
  performanceId: number,
  events: SeatChange[],
) {
  if (events.length) await redis.publish(seatEventsChannel(keyPrefix, performanceId), JSON.stringify(events));
}

export async function readSeatEvents(
  performanceId: number,
  afterSeq: number,
  limit = 1000,
): Promise<SeatChange[]> {
  const rows = await SeatEvent.findAll({
    where: { performanceId, seq: { [Op.gt]: afterSeq } },
    order: [['seq', 'ASC']],
    limit,
    raw: true,
  });
  return rows.map((r) => ({ seq: Number(r.seq), seatId: Number(r.seatId), status: r.status }));
}

export type SeatEventClient = {
  lastSent: number;
  live: boolean;
  pending: SeatChange[];
  write(chunk: string): void;
};

type Room = { lastSeq: number; clients: Set<SeatEventClient>; chain: Promise<void>; ready: Promise<void> };

function format(e: SeatChange): string {
  return `id: ${e.seq}\nevent: seat\ndata: ${JSON.stringify({ seatId: e.seatId, status: e.status })}\n\n`;
}

/**
 * Per API process: one subscription per performance that has clients, delivering every committed
 * seat change exactly once and in sequence order. A gap in what pub/sub brings (a lost publish, a
 * subscription that started late) is filled from MySQL, and a periodic catch-up covers the tail.
 */
export class SeatEventHub {
  private readonly rooms = new Map<number, Room>();
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keyPrefix: string,
    private readonly logger: Logger,
    heartbeatSeconds: number,
    catchUpMs = 2000,
  ) {
    subscriber.on('message', (channel: string, message: string) => {
      const m = /\{perf-(\d+)\}$/.exec(channel);
      if (!m || channel !== seatEventsChannel(this.keyPrefix, Number(m[1]))) return;
      const room = this.rooms.get(Number(m[1]));
      if (room) this.schedule(Number(m[1]), room, JSON.parse(message) as SeatChange[]);
    });
    this.timer = setInterval(() => {
      for (const [id, room] of this.rooms) this.schedule(id, room, []);
    }, catchUpMs);
    this.heartbeat = setInterval(() => {
      for (const room of this.rooms.values()) for (const c of room.clients) c.write(': keep-alive\n\n');
    }, heartbeatSeconds * 1000);
    this.timer.unref();
    this.heartbeat.unref();
  }

  /** Adds a client; replays what it missed after `lastEventId` (if given) before live events. */
  async add(performanceId: number, client: SeatEventClient, lastEventId: number | undefined): Promise<void> {
    const room = this.room(performanceId);
    await room.ready;
    room.clients.add(client);
    sseClients.inc();
    if (lastEventId === undefined) {
      client.lastSent = room.lastSeq;
    } else {
      client.lastSent = lastEventId;
      for (;;) {
        const missed = await readSeatEvents(performanceId, client.lastSent);
        this.send(client, missed);
        if (missed.length < 1000) break;
      }
    }
    client.live = true;
    this.send(client, client.pending);
    client.pending = [];
  }

  remove(performanceId: number, client: SeatEventClient): void {
    const room = this.rooms.get(performanceId);
    if (!room || !room.clients.delete(client)) return;
    sseClients.dec();
    if (room.clients.size === 0) {
      this.rooms.delete(performanceId);
      void this.subscriber
        .unsubscribe(seatEventsChannel(this.keyPrefix, performanceId))
        .catch(() => undefined);
    }
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    for (const [id, room] of this.rooms) for (const c of [...room.clients]) this.remove(id, c);
  }

  private room(performanceId: number): Room {
    let room = this.rooms.get(performanceId);
    if (!room) {
      const r: Room = { lastSeq: 0, clients: new Set(), chain: Promise.resolve(), ready: Promise.resolve() };
      // Subscribe first, then read where the sequence stands: nothing committed after can be missed.
      r.ready = (async () => {
        await this.subscriber.subscribe(seatEventsChannel(this.keyPrefix, performanceId));
        const p = await Performance.findByPk(performanceId, { attributes: ['eventSeq'] });
        r.lastSeq = Number(p?.eventSeq ?? 0);
      })();
      r.ready.catch(() => this.rooms.delete(performanceId));
      this.rooms.set(performanceId, r);
      room = r;
    }
    return room;
  }

  private schedule(performanceId: number, room: Room, events: SeatChange[]): void {
    room.chain = room.chain
      .then(() => room.ready)
      .then(() => this.deliver(performanceId, room, events))
      .catch((err: unknown) => this.logger.warn({ err, performanceId }, 'seat event delivery failed'));
  }

  private async deliver(performanceId: number, room: Room, events: SeatChange[]): Promise<void> {
    const first = events[0];
    if (!first || first.seq > room.lastSeq + 1) {
      // A gap (or the periodic catch-up): read what MySQL has after the last delivered event.
      const upTo = first ? first.seq - 1 : Number.MAX_SAFE_INTEGER;
      let after = room.lastSeq;
      for (;;) {
        const missed = (await readSeatEvents(performanceId, after)).filter((e) => e.seq <= upTo);
        this.broadcast(room, missed);
        if (missed.length < 1000) break;
        after = missed[missed.length - 1]!.seq;
      }
    }
    this.broadcast(room, events);
  }

  private broadcast(room: Room, events: SeatChange[]): void {
    const fresh = events.filter((e) => e.seq > room.lastSeq);
    if (!fresh.length) return;
    room.lastSeq = fresh[fresh.length - 1]!.seq;
    for (const c of room.clients) {
      if (c.live) this.send(c, fresh);
      else c.pending.push(...fresh);
    }
  }

  private send(client: SeatEventClient, events: SeatChange[]): void {
    const fresh = events.filter((e) => e.seq > client.lastSent);
    if (!fresh.length) return;
    client.write(fresh.map(format).join(''));
    client.lastSent = fresh[fresh.length - 1]!.seq;
    seatEventsDelivered.inc(fresh.length);
  }
}
