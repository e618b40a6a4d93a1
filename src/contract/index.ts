/**
 * The storage contract: what the domain needs from a database and what each adapter
 * (src/db/sqlite, src/db/pg) implements. Plain TypeScript only: no Drizzle, no driver, no domain
 * rule; the domain, the adapters and the wiring all import it, and it imports nothing but lib/.
 */
export * from './constants.ts';
export type * from './feed.ts';
export type * from './lease.ts';
export type * from './listing.ts';
export type * from './management.ts';
export * from './retention.ts';
export type * from './rows.ts';
export type * from './store.ts';
export type * from './task-admin.ts';
export type * from './tasks.ts';
