import { describe, expect, test } from 'bun:test';
import { getTableColumns } from 'drizzle-orm';
import { COUNTED_COLUMNS, pgFilterCountSql, sqliteFilterCountSql } from '../../src/db/listing-design.ts';
import { pgListingTriggersSql } from '../../src/db/listing-sql-pg.ts';
import { sqliteListingTriggersSql } from '../../src/db/listing-sql-sqlite.ts';
import { taskFilterCounts as pgTaskFilterCounts } from '../../src/db/pg/schema/index.ts';
import { taskFilterCounts } from '../../src/db/schema/index.ts';

/** The counted filters are declared once (src/db/listing-design.ts); what is committed must agree. */

const read = (path: string) => Bun.file(new URL(`../../${path}`, import.meta.url)).text();

describe('the listing declaration and the committed SQL agree', () => {
  test('SQLite: drizzle/0016_filter_count_triggers.sql is the generated text', async () => {
    expect(await read('drizzle/0016_filter_count_triggers.sql')).toBe(`${sqliteFilterCountSql()}\n`);
  });

  test('SQLite: drizzle/0022_listing_triggers_deferred_filters.sql is the generated text', async () => {
    expect(await read('drizzle/0022_listing_triggers_deferred_filters.sql')).toBe(`${sqliteListingTriggersSql()}\n`);
  });

  test('PostgreSQL: drizzle/pg/0014_listing_triggers_key_order.sql is the generated text', async () => {
    expect(await read('drizzle/pg/0014_listing_triggers_key_order.sql')).toBe(`${pgListingTriggersSql()}\n`);
  });

  test('PostgreSQL: drizzle/pg/0012_filter_count_triggers.sql is the generated text', async () => {
    expect(await read('drizzle/pg/0012_filter_count_triggers.sql')).toBe(`${pgFilterCountSql()}\n`);
  });

  test('both schemas of task_filter_counts have a column per counted filter', () => {
    for (const table of [taskFilterCounts, pgTaskFilterCounts]) {
      const names = Object.values(getTableColumns(table)).map((c) => c.name);
      for (const c of COUNTED_COLUMNS) expect(names).toContain(c);
    }
  });

  test('a changed declaration changes the generated SQL (the check can fail)', () => {
    expect(sqliteFilterCountSql()).toContain('NEW.status, NEW.action');
    expect(pgFilterCountSql()).toContain('r.status, r.action');
  });
});
