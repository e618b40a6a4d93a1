import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { successStep } from './lifecycle.ts';
import type { SimTask, TaskView } from './types.ts';

/** Bounds of the push; defaults are what midjourney-proxy's own notify does, plus a few retries. */
export interface NotifyBounds {
  /** Per POST; a hook that hangs costs its own task this long, nobody else. */
  timeoutMs: number;
  /** Extra tries of a failed POST, only while no newer state of the task waits behind it. */
  retries: number;
  /** First retry delay; doubles per retry. */
  backoffMs: number;
  /** States waiting per task; past it the oldest waiting one is dropped (the final state is always last). */
  maxQueue: number;
}

export const DEFAULT_NOTIFY_BOUNDS: NotifyBounds = { timeoutMs: 5000, retries: 2, backoffMs: 250, maxQueue: 8 };

interface Watch {
  task: SimTask;
  /** Key of the last state queued, so each distinct state goes out once. */
  lastKey: string | null;
  queue: TaskView[];
  sending: boolean;
  timer: ReturnType<typeof setTimeout> | null;
  finished: boolean;
}

/** What makes a state "a change" for the hook: status, progress, image, failure. */
function keyOf(v: TaskView): string {
  return JSON.stringify([v.status, v.progress, v.imageUrl, v.videoUrl, v.failReason]);
}

/**
 * Pushes a task's changes to its `notifyHook` as midjourney-proxy does: the fetch JSON of the task,
 * POSTed at each change, in order per task. Task state is derived from the clock (no timers in the
 * store), so each watched task gets one timer at its next step boundary. Under a clock that is not
 * the system clock (tests' ManualClock) the timer also re-checks every `manualPollMs`. A task
 * waiting in MODAL is dropped and watched again when its confirmation saves it.
 */
export class Notifier {
  private readonly watches = new Map<string, Watch>();
  private readonly inflight = new Set<AbortController>();
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly stepMs: number,
    private readonly view: (task: SimTask) => TaskView,
    private readonly logger: Logger,
    private readonly bounds: NotifyBounds = DEFAULT_NOTIFY_BOUNDS,
    private readonly manualPollMs: number | null = null,
  ) {}

  /** Starts (or re-arms, after a modal confirmation) the push of a task that has a hook. */
  watch(task: SimTask): void {
    if (this.stopped || task.notifyHook === null || !/^https?:\/\//i.test(task.notifyHook)) return;
    let w = this.watches.get(task.id);
    if (!w) {
      w = { task, lastKey: null, queue: [], sending: false, timer: null, finished: false };
      this.watches.set(task.id, w);
    }
    w.task = task;
    w.finished = false;
    this.check(w);
  }

  /**
   * Tasks read back from the task file (a DEMO restart): those still on their way are pushed from
   * their current state on; finished ones were told already and are not told again.
   */
  resume(tasks: Iterable<SimTask>): void {
    const now = this.clock.now();
    for (const task of tasks) if (this.nextChangeAt(task, now) !== null) this.watch(task);
  }

  /** The `forget` fault: nothing more goes out for tasks that no longer exist. */
  clear(): void {
    for (const w of this.watches.values()) {
      if (w.timer) clearTimeout(w.timer);
      w.queue.length = 0;
    }
    this.watches.clear();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
    for (const c of this.inflight) c.abort();
    this.inflight.clear();
  }

  /** When the derived state may next change, or null when it never will (or waits for a modal). */
  private nextChangeAt(task: SimTask, now: number): number | null {
    if (task.runFrom === null || this.stepMs <= 0) return null;
    const elapsed = now - task.runFrom;
    const step = elapsed < 0 ? 0 : Math.floor(elapsed / this.stepMs);
    // Past successStep a task is SUCCESS, FAILURE (earlier) or a hang stuck at its last percentage.
    if (step >= successStep(task.action)) return null;
    return task.runFrom + (step + 1) * this.stepMs;
  }

  private check(w: Watch): void {
    if (this.stopped || this.watches.get(w.task.id) !== w) return;
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    const now = this.clock.now();
    const v = this.view(w.task);
    const key = keyOf(v);
    if (key !== w.lastKey) {
      w.lastKey = key;
      this.enqueue(w, v);
    }
    const final = v.status === 'SUCCESS' || v.status === 'FAILURE';
    const next = final ? null : this.nextChangeAt(w.task, now);
    if (next === null) {
      w.finished = true;
      this.forgetIfIdle(w);
      return;
    }
    // +1: a timer may fire a hair early, and floor() would still see the old step.
    let delay = Math.max(0, next - now) + 1;
    if (this.manualPollMs !== null) delay = Math.min(delay, this.manualPollMs);
    w.timer = setTimeout(() => this.check(w), delay);
  }

  private enqueue(w: Watch, v: TaskView): void {
    w.queue.push(v);
    if (w.queue.length > this.bounds.maxQueue) w.queue.splice(0, w.queue.length - this.bounds.maxQueue);
    if (!w.sending) void this.drain(w);
  }

  private forgetIfIdle(w: Watch): void {
    if (w.finished && !w.sending && w.queue.length === 0 && this.watches.get(w.task.id) === w)
      this.watches.delete(w.task.id);
  }

  private async drain(w: Watch): Promise<void> {
    w.sending = true;
    try {
      for (let v = w.queue.shift(); v !== undefined && !this.stopped; v = w.queue.shift()) {
        for (let attempt = 0; !this.stopped; attempt++) {
          const error = await this.post(w.task.notifyHook ?? '', v);
          if (error === null) break;
          const superseded = w.queue.length > 0;
          if (superseded || attempt >= this.bounds.retries) {
            // A failing hook gets the newest state next, not a backlog of timeouts (order is kept: states are skipped, never swapped).
            const skipped = w.queue.splice(0, Math.max(0, w.queue.length - 1)).length;
            this.logger.warn('notifyHook delivery failed', {
              taskId: v.id,
              status: v.status,
              error,
              attempts: attempt + 1,
              skipped,
            });
            break;
          }
          await Bun.sleep(this.bounds.backoffMs * 2 ** attempt);
        }
      }
    } finally {
      w.sending = false;
      this.forgetIfIdle(w);
    }
  }

  /** One POST; returns null on a 2xx, else what went wrong (never throws). */
  private async post(url: string, v: TaskView): Promise<string | null> {
    const controller = new AbortController();
    this.inflight.add(controller);
    const timer = setTimeout(() => controller.abort(), this.bounds.timeoutMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(v),
        signal: controller.signal,
        redirect: 'manual',
      });
      await res.body?.cancel();
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      return controller.signal.aborted
        ? `no answer within ${this.bounds.timeoutMs} ms`
        : err instanceof Error
          ? err.message
          : String(err);
    } finally {
      clearTimeout(timer);
      this.inflight.delete(controller);
    }
  }
}
