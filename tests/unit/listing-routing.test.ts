import { describe, expect, test } from 'bun:test';
import { sqliteInThreadListing } from '../../src/backend.ts';
import { routedListing, runsInline } from '../../src/db/sqlite/listing-executor.ts';
import { allFilter, selfFilter } from '../../src/domain/tasks.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestUser, insertTask } from '../helpers/factories.ts';

/**
 * Which listings stay on the main thread: two real in-thread executors over two databases that
 * hold different rows, so the total of an answer says which one ran it.
 */
function world() {
  const inlineDb = memoryDb();
  const pooledDb = memoryDb();
  const a = createTestUser(inlineDb);
  const b = createTestUser(pooledDb);
  expect(a.id).toBe(b.id);
  for (let i = 0; i < 3; i++) insertTask(inlineDb, { userId: a.id, submitTime: 1_000 + i });
  for (let i = 0; i < 5; i++) insertTask(pooledDb, { userId: b.id, submitTime: 1_000 + i });
  return { listing: routedListing(sqliteInThreadListing(inlineDb), sqliteInThreadListing(pooledDb)), userId: a.id };
}

describe('listing routing (main thread or read pool)', () => {
  test('first pages, mj_id and channel filters run inline; time ranges and deep pages go to the pool', async () => {
    const { listing, userId } = world();
    expect((await listing.list(selfFilter(userId, {}), {})).total).toBe(3);
    expect((await listing.list(selfFilter(userId, { mj_id: 'x' }), {})).total).toBe(0);
    expect((await listing.list(allFilter({ channel_id: 0 }), { p: 2, page_size: 100 })).total).toBe(3);
    expect((await listing.list(selfFilter(userId, { start_timestamp: 1 }), {})).total).toBe(5);
    expect((await listing.list(selfFilter(userId, { end_timestamp: 99_999_999_999_999 }), {})).total).toBe(5);
    expect((await listing.list(allFilter({}), { p: 21, page_size: 100 })).total).toBe(5);
    const policy = { forward: true, serverAddress: 'http://x' };
    expect(JSON.parse(await listing.listJson(selfFilter(userId, {}), {}, { admin: false, policy })).data.total).toBe(3);
    expect(
      JSON.parse(await listing.listJson(selfFilter(userId, { start_timestamp: 1 }), {}, { admin: false, policy })).data
        .total,
    ).toBe(5);
  });

  test('the inline bound is the page end: offset plus page size up to 2048 rows', () => {
    expect(runsInline({}, { p: 20, page_size: 100 })).toBe(true);
    expect(runsInline({}, { p: 21, page_size: 100 })).toBe(false);
    expect(runsInline({}, { p: 102, page_size: 20 })).toBe(true);
    expect(runsInline({}, { p: 103, page_size: 20 })).toBe(false);
    expect(runsInline({ start: 0 }, {})).toBe(false);
    expect(runsInline({ end: 0 }, {})).toBe(false);
  });
});
