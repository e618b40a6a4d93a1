import { join } from 'node:path';
import type { LeaseStore } from '../contract/lease.ts';
import type { ArchivedRow, RetentionHooks, RetentionStore, RetentionTable } from '../contract/retention.ts';
import { appendGzipMembers, archiveFileName, monthOf, sizeOf, truncateTo } from '../lib/archive-files.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import { AppError } from './errors.ts';
import type { OptionsStore } from './options.ts';

/**
 * The retention pass (SPEC §17): finished tasks older than `task_retention_days` and log rows older
 * than `log_retention_days` are appended to the archive files, then removed, batch by batch
 * (RetentionStore). One pass at a time across every process: it holds the `retention` lease.
 *
 * No row is lost and no archive line is written twice. Each file's committed length (the bytes
 * whose rows' delete committed) is kept in the database, written in the same transaction as the
 * delete; a file is recorded before its first append. A batch appends and fsyncs first, then
 * commits its delete with the new lengths. If the delete does not commit (crash, error), the file
 * holds bytes past its committed length: lines of rows that are still in the database. The next
 * pass (or the failed batch at once) cuts every file back to its committed length before it
 * appends, and those rows are archived again with their next batch. Bytes are cut only at member
 * boundaries, so the file stays a valid multi-member gzip.
 */

export const RETENTION_LEASE = 'retention';
const DAY_MS = 86_400_000;
/** The pass's lease lasts this long unrenewed; it is renewed between batches. */
const LEASE_MS = 60_000;

export interface RetentionEnv {
  retention: RetentionStore;
  lease: LeaseStore;
  options: Pick<OptionsStore, 'get'>;
  clock: Clock;
  logger: Logger;
  archiveDir: string;
  /** Rows per delete transaction; default the store's batchSize. */
  batchSize?: number;
  /** Stop between two batches when it answers true (shutdown). */
  stopping?: () => boolean;
}

export interface RetentionTableReport {
  /** Submit/created time before which rows went; null when the table's retention is 0 (off). */
  cutoff: number | null;
  /** Lines appended to the archive files (of batches whose delete committed). */
  archived: number;
  removed: number;
  batches: number;
}

export interface RetentionReport {
  tasks: RetentionTableReport;
  logs: RetentionTableReport & { carried_forward: number };
  /** Archive files appended to by this pass. */
  archive_files: string[];
  /** Files cut back to their committed length (lines of a pass whose delete never committed). */
  repaired_files: string[];
  started_at: number;
  duration_ms: number;
}

/**
 * A turn of the event loop between batches. A timer, not setImmediate: on Bun 1.4.5 an immediate
 * queued right after a postgres.js answer waited 40–500 ms here (measured in the retention test on
 * PostgreSQL), a zero timer 1–4 ms.
 */
const nextTurn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** The archive side of a pass: committed lengths, the groups' staged ones, and the hooks the store calls. */
function archiveBook(env: RetentionEnv, committed: Map<string, number>, touched: Set<string>, holder: string) {
  /** Per group of the last archive call: the files' lengths once it is committed, and its row count. */
  let staged: Array<{ lengths: Map<string, number>; rows: number }> = [];
  const text = (m: Map<string, number>) => JSON.stringify(Object.fromEntries([...m].sort()));
  let lastRenew = env.clock.now();
  let archivedLines = 0;
  let cutShort = false;
  const hooks: RetentionHooks = {
    async archive(table: RetentionTable, groups: readonly (readonly ArchivedRow[])[]): Promise<string[]> {
      const timeColumn = table === 'tasks' ? 'submit_time' : 'created_time';
      // Per file: the lines of each group that has rows in it.
      const files = new Map<string, Array<{ group: number; lines: string[] }>>();
      for (const [group, rows] of groups.entries()) {
        for (const row of rows) {
          const name = archiveFileName(table, monthOf(Number(row[timeColumn])));
          const parts = files.get(name) ?? files.set(name, []).get(name)!;
          let part = parts[parts.length - 1];
          if (part?.group !== group) parts.push((part = { group, lines: [] }));
          part.lines.push(JSON.stringify(row));
        }
        // Serialising a whole batch at once would hold the thread for ms: a group per turn.
        if (groups.length > 1) await nextTurn();
      }
      staged = groups.map((rows) => ({ lengths: new Map<string, number>(), rows: rows.length }));
      for (const [name, parts] of files) {
        if (!committed.has(name)) {
          // Recorded before the first byte goes in, so a crash after it leaves a length to cut back to.
          committed.set(name, (await sizeOf(join(env.archiveDir, name))) ?? 0);
          await env.retention.saveArchive(text(committed));
        }
        const lengths = await appendGzipMembers(
          env.archiveDir,
          name,
          parts.map((p) => `${p.lines.join('\n')}\n`),
        );
        parts.forEach((p, i) => {
          staged[p.group]!.lengths.set(name, lengths[i]!);
        });
      }
      // Group k's bookkeeping: every file as it is once groups 0..k are in.
      const books: string[] = [];
      const running = new Map(committed);
      for (const g of staged) {
        for (const [name, length] of g.lengths) running.set(name, length);
        books.push(text(running));
      }
      return books;
    },
    committed(index: number): void {
      const g = staged[index];
      if (!g) return;
      for (const [name, length] of g.lengths) {
        committed.set(name, length);
        touched.add(name);
      }
      archivedLines += g.rows;
      staged[index] = { lengths: new Map(), rows: 0 };
    },
    async discard(): Promise<void> {
      const names = new Set(staged.flatMap((g) => [...g.lengths.keys()]));
      for (const name of names) await truncateTo(join(env.archiveDir, name), committed.get(name) ?? 0);
      staged = [];
    },
    async between(): Promise<boolean> {
      await nextTurn();
      const now = env.clock.now();
      if (now - lastRenew > LEASE_MS / 3) {
        if (!(await env.lease.tryAcquire(RETENTION_LEASE, holder, now, LEASE_MS))) {
          env.logger.warn('retention lease lost; the pass stops here');
          cutShort = true;
          return false;
        }
        lastRenew = now;
      }
      if (env.stopping?.()) cutShort = true;
      return !cutShort;
    },
  };
  return {
    hooks,
    /** The pass stopped before its end (shutdown, or the lease lost): it is not the day's pass. */
    cutShort: () => cutShort,
    /** Lines of committed groups since the last call. */
    takeArchived(): number {
      const n = archivedLines;
      archivedLines = 0;
      return n;
    },
  };
}

/** Cut every recorded file back to its committed length; files gone are forgotten. Returns the files cut. */
async function repair(env: RetentionEnv, committed: Map<string, number>): Promise<string[]> {
  const cut: string[] = [];
  let changed = false;
  for (const [name, length] of committed) {
    const path = join(env.archiveDir, name);
    const size = await sizeOf(path);
    if (size === null) {
      // Moved away by the operator (cold storage): the next append starts a new file.
      committed.delete(name);
      changed = true;
    } else if (size > length) {
      await truncateTo(path, length);
      cut.push(name);
    } else if (size < length) {
      env.logger.warn('archive file is shorter than recorded; appending after what is there', {
        file: name,
        size,
        recorded: length,
      });
      committed.set(name, size);
      changed = true;
    }
  }
  if (changed) await env.retention.saveArchive(JSON.stringify(Object.fromEntries([...committed].sort())));
  return cut;
}

function parseBook(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  if (!text) return out;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object') {
      for (const [k, v] of Object.entries(parsed)) if (typeof v === 'number' && v >= 0) out.set(k, v);
    }
  } catch {
    // A hand-edited bad value: no file is cut back, appends go on after what is there.
  }
  return out;
}

/** One retention pass now. CONFLICT when another pass (this process or another) holds the lease. */
export async function runRetention(env: RetentionEnv): Promise<RetentionReport> {
  const startedAt = env.clock.now();
  const t0 = performance.now();
  const holder = crypto.randomUUID();
  if (!(await env.lease.tryAcquire(RETENTION_LEASE, holder, startedAt, LEASE_MS)))
    throw new AppError('CONFLICT', 'a retention pass is running already');
  try {
    const state = await env.retention.state();
    const committed = parseBook(state.archive);
    const touched = new Set<string>();
    const repaired = await repair(env, committed);
    const book = archiveBook(env, committed, touched, holder);
    const batchSize = Math.max(1, env.batchSize ?? env.retention.batchSize);
    const cutoffOf = (days: number) => (days > 0 ? startedAt - days * DAY_MS : null);
    const tasks: RetentionTableReport = {
      cutoff: cutoffOf(env.options.get('task_retention_days')),
      archived: 0,
      removed: 0,
      batches: 0,
    };
    const logs: RetentionReport['logs'] = {
      cutoff: cutoffOf(env.options.get('log_retention_days')),
      archived: 0,
      removed: 0,
      batches: 0,
      carried_forward: 0,
    };
    if (tasks.cutoff !== null) {
      const r = await env.retention.removeExpiredTasks(tasks.cutoff, batchSize, book.hooks);
      Object.assign(tasks, { removed: r.removed, batches: r.batches, archived: book.takeArchived() });
    }
    if (logs.cutoff !== null && !(env.stopping?.() ?? false)) {
      const r = await env.retention.removeExpiredLogs(logs.cutoff, batchSize, book.hooks);
      Object.assign(logs, {
        removed: r.removed,
        batches: r.batches,
        carried_forward: r.carried,
        archived: book.takeArchived(),
      });
    }
    // A pass cut short leaves the day's pass due, so the next leader (or this one) runs it again.
    if (!book.cutShort() && !(env.stopping?.() ?? false)) await env.retention.saveLastPass(env.clock.now());
    const report: RetentionReport = {
      tasks,
      logs,
      archive_files: [...touched].sort(),
      repaired_files: repaired,
      started_at: startedAt,
      duration_ms: Math.round((performance.now() - t0) * 10) / 10,
    };
    env.logger.info('retention pass', { ...report });
    return report;
  } finally {
    await env.lease.release(RETENTION_LEASE, holder);
  }
}

/** What a pass needs, from AppDeps (or anything shaped like it). */
export interface RetentionDeps {
  taskStore: { retention: RetentionStore; lease: LeaseStore };
  options: Pick<OptionsStore, 'get'>;
  clock: Clock;
  logger: Logger;
  config: { archiveDir: string };
}

export function retentionEnvOf(deps: RetentionDeps, stopping?: () => boolean): RetentionEnv {
  return {
    retention: deps.taskStore.retention,
    lease: deps.taskStore.lease,
    options: deps.options,
    clock: deps.clock,
    logger: deps.logger.child({ component: 'retention' }),
    archiveDir: deps.config.archiveDir,
    ...(stopping ? { stopping } : {}),
  };
}

/** Whether the daily pass is due: never ran, or ran more than a day ago. */
export function retentionDue(lastPass: number | null, now: number): boolean {
  return lastPass === null || now - lastPass >= DAY_MS;
}
