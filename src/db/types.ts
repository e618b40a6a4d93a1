import type { DB } from './client.ts';

/** The handle a synchronous Drizzle transaction callback receives. */
export type Tx = Parameters<Parameters<DB['transaction']>[0]>[0];

/** Either the database or an open transaction: functions taking this compose into one tx. */
export type DbLike = DB | Tx;
