/**
 * Paging and the task listing filter as plain values, shared by the domain and by every storage
 * dialect (db/ may not import domain/).
 */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageQuery {
  p?: number | undefined;
  page_size?: number | undefined;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

/** Defaults and the 100 cap of SPEC §6.1, in one place for every list. */
export function pageOf(q: PageQuery): { page: number; pageSize: number; offset: number } {
  const page = q.p ?? 1;
  const pageSize = Math.min(q.page_size ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  return { page, pageSize, offset: (page - 1) * pageSize };
}

/**
 * One page of a list: `read` gives `limit` rows from `offset` and the total of all rows, `item`
 * turns each row into what the page shows.
 */
export async function listPage<R, T>(
  q: PageQuery,
  read: (limit: number, offset: number) => Promise<{ rows: R[]; total: number }>,
  item: (row: R) => T,
): Promise<Page<T>> {
  const { page, pageSize, offset } = pageOf(q);
  const { rows, total } = await read(pageSize, offset);
  return { items: rows.map(item), total, page, page_size: pageSize };
}

/** Which tasks a listing shows: all of them, or those of a user, a channel, an upstream id, a submit-time range (inclusive, ms), a status, an action. */
export interface TaskFilter {
  userId?: number | undefined;
  channelId?: number | undefined;
  mjId?: string | undefined;
  start?: number | undefined;
  end?: number | undefined;
  /** The stored status, exactly ('' is a task not yet polled). */
  status?: string | undefined;
  /** The stored action, exactly. */
  action?: string | undefined;
}
