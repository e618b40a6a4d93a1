import { expect, test } from 'bun:test';
import type {
  ChannelRow,
  DeliveryRow,
  LogRow,
  NewTaskRow,
  TaskRow,
  TokenRow,
  UserRow,
} from '../../src/contract/rows.ts';
import type * as pg from '../../src/db/pg/schema/index.ts';
import type * as sqlite from '../../src/db/schema/index.ts';

/**
 * The contract's rows are plain types written by hand (src/contract/rows.ts); each dialect's
 * Drizzle schema must read and write exactly those shapes. `Same<A, B>` is `true` only when A is
 * assignable to B and B to A: a column added, dropped, renamed or retyped on one side fails
 * `bun run typecheck` here (the runtime test only keeps the file in the suite).
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

const sameRows = {
  sqliteUser: true satisfies Same<UserRow, typeof sqlite.users.$inferSelect>,
  sqliteToken: true satisfies Same<TokenRow, typeof sqlite.tokens.$inferSelect>,
  sqliteChannel: true satisfies Same<ChannelRow, typeof sqlite.channels.$inferSelect>,
  sqliteLog: true satisfies Same<LogRow, typeof sqlite.logs.$inferSelect>,
  sqliteTask: true satisfies Same<TaskRow, typeof sqlite.tasks.$inferSelect>,
  sqliteNewTask: true satisfies Same<NewTaskRow, typeof sqlite.tasks.$inferInsert>,
  sqliteDelivery: true satisfies Same<DeliveryRow, typeof sqlite.webhookDeliveries.$inferSelect>,
  pgUser: true satisfies Same<UserRow, typeof pg.users.$inferSelect>,
  pgToken: true satisfies Same<TokenRow, typeof pg.tokens.$inferSelect>,
  pgChannel: true satisfies Same<ChannelRow, typeof pg.channels.$inferSelect>,
  pgLog: true satisfies Same<LogRow, typeof pg.logs.$inferSelect>,
  pgTask: true satisfies Same<TaskRow, typeof pg.tasks.$inferSelect>,
  pgNewTask: true satisfies Same<NewTaskRow, typeof pg.tasks.$inferInsert>,
  pgDelivery: true satisfies Same<DeliveryRow, typeof pg.webhookDeliveries.$inferSelect>,
};

// The check itself must be able to fail: a row with one column more is not the same.
const notSame: false = false satisfies Same<TaskRow, TaskRow & { extra: number }>;

test('each Drizzle schema reads and writes the contract rows (checked by the type checker)', () => {
  expect(Object.values(sameRows).every(Boolean)).toBe(true);
  expect(notSame).toBe(false);
});
