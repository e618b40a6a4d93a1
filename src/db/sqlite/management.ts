import type { DB } from '../client.ts';
import { perConnection } from '../prepared.ts';
import { sqliteChannels } from './channels.ts';
import { sqliteDeliveryLog } from './delivery-log.ts';
import { sqliteDemo } from './demo.ts';
import { sqliteLogs } from './logs.ts';
import { sqliteOperatorStats } from './operator-stats.ts';
import { sqliteOptions } from './options.ts';
import { sqliteTokens } from './tokens.ts';
import { sqliteUsers } from './users.ts';

/**
 * The bun:sqlite adapter of the contract's ManagementStore (src/contract/management.ts; its fit is
 * checked by src/db/sqlite/store.ts and tests/unit/sqlite-store).
 * Each method runs its SQL synchronously (a bun:sqlite transaction must) behind a promise.
 */
function build(db: DB) {
  return {
    users: sqliteUsers(db),
    tokens: sqliteTokens(db),
    channels: sqliteChannels(db),
    options: sqliteOptions(db),
    logs: sqliteLogs(db),
    deliveryLog: sqliteDeliveryLog(db),
    demo: sqliteDemo(db),
    operatorStats: sqliteOperatorStats(db),
  };
}

export type SqliteManagementStore = ReturnType<typeof build>;

// One per connection, so its prepared statements are compiled once however often it is asked for.
export const createSqliteManagementStore: (db: DB) => SqliteManagementStore = perConnection(build);
