import type { ListingView } from '../contract/listing.ts';
import type { TaskRow } from '../contract/rows.ts';
import type { Page } from './pagination.ts';
import { adminTaskItem, taskItem } from './tasks.ts';

export type { ListingView };

/**
 * The REST envelope of a page (`{ success, message, data }`); the same code renders in a SQLite
 * listing worker (which loads this module by its URL), in-thread, and in PostgreSQL's task store.
 */
export function renderListing(page: Page<TaskRow>, view: ListingView): string {
  const items = view.admin
    ? page.items.map((r) => adminTaskItem(r, view.policy))
    : page.items.map((r) => taskItem(r, view.policy));
  return JSON.stringify({ success: true, message: '', data: { ...page, items } });
}
