import { once } from '../lib/once.ts';

/** At most `slots` holders at once; the others wait in arrival order. */
export class Semaphore {
  private free: number;
  private readonly waiting: Array<() => void> = [];

  constructor(slots: number) {
    this.free = slots;
  }

  /** Resolves with the release function once a slot is held (call it exactly once). */
  acquire(): Promise<() => void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve) => this.waiting.push(() => resolve(this.releaser())));
  }

  /** Holders waiting for a slot now. */
  get queued(): number {
    return this.waiting.length;
  }

  private releaser(): () => void {
    return once(() => {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    });
  }
}
