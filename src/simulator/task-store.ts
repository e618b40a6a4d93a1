import type { Clock } from '../lib/clock.ts';
import type { TaskFile } from './task-file.ts';
import type { SimTask, TaskAction, TaskOutcome } from './types.ts';

function randomDigits(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  let out = '';
  for (const b of bytes) out += String(b % 10);
  return out;
}

/** Slug of a prompt for image file names: letters/digits, `_` between words, at most 40 chars. */
export function slugify(text: string): string {
  const words = text
    .replace(/--[\w-]+(=\S*)?(\s+[^-\s]\S*)?/g, ' ')
    .replace(/<?https?:\/\/\S+>?/g, ' ')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0);
  const slug = words.join('_').slice(0, 40).replace(/_+$/, '');
  return slug.length > 0 ? slug : 'image';
}

/** Facts a submit handler decides; the store fills ids, hashes and times. */
export interface NewTask {
  action: TaskAction;
  prompt: string;
  promptEn?: string;
  description: string;
  state?: string | null;
  notifyHook?: string | null;
  finalPrompt?: string;
  customId?: string | null;
  outcome?: TaskOutcome;
  parentId?: string | null;
  /** Waits in MODAL until /submit/modal. */
  modal?: boolean;
  /** Created already finished (the `--sim-existed` case). */
  alreadyDone?: boolean;
  extraProps?: Record<string, unknown>;
}

/**
 * In-memory task store, insertion ordered, bounded: past `maxTasks` the oldest task is dropped so
 * a long benchmark cannot grow memory without limit.
 */
export class TaskStore {
  private readonly tasks = new Map<string, SimTask>();
  private readonly byHash = new Map<string, string>();
  private idMs = -1;
  private readonly idSuffixes = new Set<number>();
  /** Told of every task created or changed after create (the notifyHook push watches it). */
  onSaved: ((task: SimTask) => void) | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly maxTasks: number,
    /** Time from run start to SUCCESS, used to back-date `alreadyDone` tasks. */
    private readonly doneAfterMs: (action: TaskAction) => number,
    /** On-disk copy, when the tasks must outlive the process (DEMO). */
    private readonly file: TaskFile | null = null,
  ) {
    if (file) {
      for (const task of file.load(maxTasks)) {
        this.tasks.set(task.id, task);
        this.byHash.set(task.hash, task.id);
      }
    }
  }

  /** Writes a task changed after create (a modal confirmation) to the file. */
  save(task: SimTask): void {
    this.file?.put(task);
    this.onSaved?.(task);
  }

  get size(): number {
    return this.tasks.size;
  }

  get(id: string): SimTask | undefined {
    return this.tasks.get(id);
  }

  getByHash(hash: string): SimTask | undefined {
    const id = this.byHash.get(hash);
    return id === undefined ? undefined : this.tasks.get(id);
  }

  /** Newest first, at most `limit`. */
  latest(limit: number): SimTask[] {
    const all = Array.from(this.tasks.values());
    return all.slice(Math.max(0, all.length - limit)).reverse();
  }

  clear(): void {
    this.tasks.clear();
    this.byHash.clear();
    this.file?.clear();
  }

  /**
   * 16 digits: 13-digit epoch ms + 3 random digits. The ms part never goes backwards and moves on
   * once its 1000 suffixes are used, so ids stay unique and cheap even when a ManualClock keeps
   * `now` fixed for thousands of submits.
   */
  private newId(now: number): string {
    const ms = Math.max(0, Math.floor(now));
    if (ms > this.idMs) {
      this.idMs = ms;
      this.idSuffixes.clear();
    }
    if (this.idSuffixes.size >= 1000) {
      this.idMs += 1;
      this.idSuffixes.clear();
    }
    const prefix = String(this.idMs).padStart(13, '0').slice(-13);
    let suffix = Math.floor(Math.random() * 1000);
    while (this.idSuffixes.has(suffix)) suffix = (suffix + 1) % 1000;
    this.idSuffixes.add(suffix);
    return prefix + String(suffix).padStart(3, '0');
  }

  create(input: NewTask): SimTask {
    const now = this.clock.now();
    const id = this.newId(now);
    const prompt = input.prompt;
    const submitTime = input.alreadyDone ? now - this.doneAfterMs(input.action) : now;
    const task: SimTask = {
      id,
      action: input.action,
      customId: input.customId ?? null,
      prompt,
      promptEn: input.promptEn ?? prompt,
      description: input.description,
      state: input.state ?? null,
      notifyHook: input.notifyHook ?? null,
      finalPrompt: input.finalPrompt ?? input.promptEn ?? prompt,
      submitTime,
      runFrom: input.modal ? null : submitTime,
      outcome: input.outcome ?? 'success',
      hash: crypto.randomUUID(),
      nonce: randomDigits(19).replace(/^0/, '1'),
      seed: String(1 + Math.floor(Math.random() * 4294967294)),
      parentId: input.parentId ?? null,
      slug: slugify(input.promptEn ?? prompt),
      extraProps: input.extraProps ?? {},
    };
    this.tasks.set(id, task);
    this.byHash.set(task.hash, id);
    this.file?.put(task);
    while (this.tasks.size > this.maxTasks) {
      const oldest = this.tasks.keys().next();
      if (oldest.done) break;
      const dropped = this.tasks.get(oldest.value);
      this.tasks.delete(oldest.value);
      if (dropped) this.byHash.delete(dropped.hash);
      this.file?.delete(oldest.value);
    }
    this.onSaved?.(task);
    return task;
  }
}
