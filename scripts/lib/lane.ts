/**
 * At most `limit` calls in flight, the rest waiting in order: a load generator's queue in front of a
 * pool of keep-alive connections, as a load balancer queues requests in front of its backends. The
 * waiting calls are small closures, not request objects (an http.Agent's own queue holds a whole
 * ClientRequest per waiting call, which at tens of thousands waiting costs the generator its own
 * garbage-collection pauses).
 */
export class Lane {
  private queue: (() => void)[] = [];
  private head = 0;
  private inflight = 0;
  /** The most calls ever waiting at once. */
  peakQueued = 0;

  constructor(private readonly limit: number) {}

  get queued(): number {
    return this.queue.length - this.head;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const go = () => {
        this.inflight++;
        fn()
          .then(resolve, reject)
          .finally(() => {
            this.inflight--;
            this.pump();
          });
      };
      if (this.inflight < this.limit && this.queued === 0) return go();
      this.queue.push(go);
      if (this.queued > this.peakQueued) this.peakQueued = this.queued;
    });
  }

  private pump(): void {
    while (this.inflight < this.limit && this.head < this.queue.length) {
      const go = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as () => void;
      if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      go();
    }
  }
}
