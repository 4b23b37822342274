import { Op } from 'sequelize';
import { CommitFence, SeatEvent } from '../db/models/index.js';
import type { RedisClient } from '../redis.js';
import { performanceTag } from '../redis.js';
import type { Logger } from '../logger.js';
import { seatEventsDelivered, sseClients } from '../metrics.js';
import { TooManyStreamsError } from '../errors.js';
import type { SeatChange } from '../domain/seats.js';

export type { SeatChange } from '../domain/seats.js';

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
  memberId: number;
  lastSent: number;
  live: boolean;
  pending: SeatChange[];
  /** Set once the client went away (possibly while it was being added). */
  closed: boolean;
  write(chunk: string): void;
  /** Bytes written but not yet taken by the client's connection. */
  buffered(): number;
  /** Ends the stream from our side (a client too slow to keep up). */
  end(): void;
};

export type SeatEventLimits = {
  /** The most events replayed to a reconnecting client; further behind, it is told to reload. */
  maxReplay: number;
  maxStreamsPerMember: number;
  maxStreams: number;
  /** A client with more than this many bytes waiting to be sent is dropped. */
  maxBufferedBytes: number;
};

export const DEFAULT_SEAT_EVENT_LIMITS: SeatEventLimits = {
  maxReplay: 1000,
  maxStreamsPerMember: 5,
  maxStreams: 10_000,
  maxBufferedBytes: 256 * 1024,
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
  private readonly perMember = new Map<number, number>();
  private streams = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(
    private readonly subscriber: RedisClient,
    private readonly keyPrefix: string,
    private readonly logger: Logger,
    heartbeatSeconds: number,
    private readonly limits: SeatEventLimits = DEFAULT_SEAT_EVENT_LIMITS,
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
      for (const [id, room] of this.rooms)
        for (const c of [...room.clients]) this.write(id, c, ': keep-alive\n\n');
    }, heartbeatSeconds * 1000);
    this.timer.unref();
    this.heartbeat.unref();
  }

  /** Streams open on this process (tests and diagnostics). */
  get size(): number {
    return this.streams;
  }

  /**
   * Takes a stream slot for the member, or throws 429 when the member or this process has as many
   * as allowed. Every admitted client is released by `remove` (also one that closed while added).
   */
  admit(client: SeatEventClient): void {
    const mine = this.perMember.get(client.memberId) ?? 0;
    if (mine >= this.limits.maxStreamsPerMember)
      throw new TooManyStreamsError(
        `At most ${this.limits.maxStreamsPerMember} event streams per member; close one first.`,
      );
    if (this.streams >= this.limits.maxStreams)
      throw new TooManyStreamsError('This server has as many event streams as it serves; retry shortly.');
    this.perMember.set(client.memberId, mine + 1);
    this.streams++;
    sseClients.inc();
  }

  /**
   * Adds an admitted client; replays what it missed after `lastEventId` (if given) before live
   * events. A client further behind than the replay bound gets a `reload` event instead (with the
   * current id): it should read the seat map again.
   */
  async add(performanceId: number, client: SeatEventClient, lastEventId: number | undefined): Promise<void> {
    const room = this.room(performanceId);
    try {
      await room.ready;
    } catch (err) {
      this.release(client);
      throw err;
    }
    // The client may have gone while the room subscribed: then it must not stay registered.
    if (client.closed) return this.release(client);
    room.clients.add(client);
    // An id beyond the sequence (the browser kept it across a restore or a reset) names nothing we
    // can replay from; MySQL is asked first, as this process may not have heard the latest commit.
    const beyond =
      lastEventId !== undefined &&
      lastEventId > room.lastSeq &&
      lastEventId > (await this.latest(performanceId, room));
    if (lastEventId === undefined) {
      client.lastSent = room.lastSeq;
    } else if (beyond || room.lastSeq - lastEventId > this.limits.maxReplay) {
      client.lastSent = room.lastSeq;
      const reason = beyond ? 'unknown-id' : 'too-far-behind';
      const data = JSON.stringify({ reason, lastEventId: room.lastSeq });
      this.write(performanceId, client, `id: ${room.lastSeq}\nevent: reload\ndata: ${data}\n\n`);
    } else {
      client.lastSent = lastEventId;
      for (;;) {
        const missed = await readSeatEvents(performanceId, client.lastSent);
        this.send(performanceId, client, missed);
        if (missed.length < 1000 || client.closed) break;
      }
    }
    client.live = true;
    this.send(performanceId, client, client.pending);
    client.pending = [];
    if (client.closed) this.remove(performanceId, client);
  }

  /** The latest sequence: what this process delivered, or MySQL's when that is further on. */
  private async latest(performanceId: number, room: Room): Promise<number> {
    const p = await Performance.findByPk(performanceId, { attributes: ['eventSeq'] });
    return Math.max(room.lastSeq, Number(p?.eventSeq ?? 0));
  }

  remove(performanceId: number, client: SeatEventClient): void {
    client.closed = true;
    const room = this.rooms.get(performanceId);
    if (!room || !room.clients.delete(client)) return;
    this.release(client);
    if (room.clients.size === 0) {
      this.rooms.delete(performanceId);
      void this.subscriber
        .unsubscribe(seatEventsChannel(this.keyPrefix, performanceId))
        .catch(() => undefined);
    }
  }

  private release(client: SeatEventClient): void {
    const mine = (this.perMember.get(client.memberId) ?? 1) - 1;
    if (mine > 0) this.perMember.set(client.memberId, mine);
    else this.perMember.delete(client.memberId);
    this.streams--;
    sseClients.dec();
  }

  /** Writes unless the client is too far behind in reading: a slow client is dropped, not buffered. */
  private write(performanceId: number, client: SeatEventClient, chunk: string): boolean {
    if (client.closed) return false;
    if (client.buffered() > this.limits.maxBufferedBytes) {
      this.logger.debug({ performanceId, memberId: client.memberId }, 'slow event-stream client dropped');
      this.remove(performanceId, client);
      client.end();
      return false;
    }
    client.write(chunk);
    return true;
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
        const p = await CommitFence.findByPk(performanceId, { attributes: ['eventSeq'] });
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
        this.broadcast(performanceId, room, missed);
        if (missed.length < 1000) break;
        after = missed[missed.length - 1]!.seq;
      }
    }
    this.broadcast(performanceId, room, events);
  }

  private broadcast(performanceId: number, room: Room, events: SeatChange[]): void {
    const fresh = events.filter((e) => e.seq > room.lastSeq);
    if (!fresh.length) return;
    room.lastSeq = fresh[fresh.length - 1]!.seq;
    for (const c of [...room.clients]) {
      if (c.live) this.send(performanceId, c, fresh);
      else if (c.pending.length + fresh.length > this.limits.maxReplay) {
        // Still replaying and already this far behind: it cannot catch up in bounded memory.
        this.remove(performanceId, c);
        c.end();
      } else c.pending.push(...fresh);
    }
  }

  private send(performanceId: number, client: SeatEventClient, events: SeatChange[]): void {
    const fresh = events.filter((e) => e.seq > client.lastSent);
    if (!fresh.length) return;
    if (!this.write(performanceId, client, fresh.map(format).join(''))) return;
    client.lastSent = fresh[fresh.length - 1]!.seq;
    seatEventsDelivered.inc(fresh.length);
  }
}
