import type { TaskFilter } from '../lib/paging.ts';
import type { CountOwner } from './listing-design.ts';

/**
 * Where the total of a listing with a counted filter (status, action; src/db/listing-design.ts)
 * comes from, the same on both databases: one owner's rows of `task_filter_counts`, summed.
 */
export interface FilterCount {
  owner: CountOwner;
  ownerId: number;
  /** null: any value. */
  status: string | null;
  action: string | null;
}

/** Whether a filter has a counted term (status or action). */
export function hasCountedTerm(f: TaskFilter): boolean {
  return f.status !== undefined || f.action !== undefined;
}

/**
 * The counts a filter's total is summed from, or null when the filter also has a time range, an
 * mj_id or both an owner and a channel: those count their matching rows through an index.
 */
export function filterCountOf(f: TaskFilter): FilterCount | null {
  if (f.mjId !== undefined || f.start !== undefined || f.end !== undefined) return null;
  if (f.userId !== undefined && f.channelId !== undefined) return null;
  const status = f.status ?? null;
  const action = f.action ?? null;
  if (f.userId !== undefined) return { owner: 'user', ownerId: f.userId, status, action };
  if (f.channelId !== undefined) return { owner: 'channel', ownerId: f.channelId, status, action };
  return { owner: 'all', ownerId: 0, status, action };
}

/** The sum of a FilterCount on SQLite (parameters: owner, owner id, status, action; null = any). */
export const FILTER_COUNT_SQL =
  'SELECT coalesce(sum(count), 0) AS n FROM task_filter_counts WHERE owner = ?1 AND owner_id = ?2 ' +
  'AND (?3 IS NULL OR status = ?3) AND (?4 IS NULL OR action = ?4)';
