import { pgChannels } from './channels.ts';
import type { PgDB } from './client.ts';
import { pgDeliveryLog } from './delivery-log.ts';
import { pgDemo } from './demo.ts';
import { pgLogs } from './logs.ts';
import { pgOperatorStats } from './operator-stats.ts';
import { pgOptions } from './options.ts';
import { pgTokens } from './tokens.ts';
import { pgUsers } from './users.ts';

/**
 * The PostgreSQL adapter of the contract's ManagementStore (src/contract/management.ts; its fit is
 * checked by src/db/pg/store.ts and tests/integration/pg-management-store.test.ts). Same results, order, paging and nulls as the
 * SQLite adapter (src/db/sqlite/management.ts); every statement is a postgres.js tagged template
 * with a fixed text per shape, so each is prepared once per connection.
 */
function build(db: PgDB) {
  return {
    users: pgUsers(db),
    tokens: pgTokens(db),
    channels: pgChannels(db),
    options: pgOptions(db),
    logs: pgLogs(db),
    deliveryLog: pgDeliveryLog(db),
    demo: pgDemo(db),
    operatorStats: pgOperatorStats(db),
  };
}

export type PgManagementStore = ReturnType<typeof build>;

const stores = new WeakMap<PgDB, PgManagementStore>();

export function createPgManagementStore(db: PgDB): PgManagementStore {
  let s = stores.get(db);
  if (!s) stores.set(db, (s = build(db)));
  return s;
}
