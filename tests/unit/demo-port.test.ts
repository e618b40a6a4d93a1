import { describe, expect, test } from 'bun:test';
import { loadConfig } from '../../src/config.ts';
import { createSqliteStore } from '../../src/db/sqlite/store.ts';
import { ensureDemoSetup } from '../../src/domain/demo-setup.ts';
import { bootstrapRoot } from '../../src/domain/users.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { memoryDb } from '../helpers/db.ts';
import { createTestChannel, createTestUser, getTask, insertTask } from '../helpers/factories.ts';

describe('DEMO_PORT', () => {
  test('PORT+1 by default, any free port when PORT is 0, or as set', () => {
    expect(loadConfig({}).demoPort).toBe(3001);
    expect(loadConfig({ PORT: '8080' }).demoPort).toBe(8081);
    expect(loadConfig({ PORT: '0' }).demoPort).toBe(0);
    expect(loadConfig({ PORT: '65535' }).demoPort).toBe(0);
    expect(loadConfig({ PORT: '0', DEMO_PORT: '4100' }).demoPort).toBe(4100);
    expect(() => loadConfig({ DEMO_PORT: 'next' })).toThrow('invalid configuration: DEMO_PORT must be a whole number');
  });
});

describe('ensureDemoSetup when the simulator moved', () => {
  test('the demo channel and the media links of its tasks follow; nothing else changes', async () => {
    const db = memoryDb();
    const store = createSqliteStore(db);
    await bootstrapRoot(store, systemClock, 'root-token-for-demo-setup');
    const first = await ensureDemoSetup(store, systemClock, 'http://127.0.0.1:4001', 'k1');
    expect(first.movedFrom).toBeNull();
    const user = createTestUser(db);
    const other = createTestChannel(db, 'http://127.0.0.1:4001/other');
    const mine = insertTask(db, {
      userId: user.id,
      channelId: first.channelId,
      imageUrl: 'http://127.0.0.1:4001/images/user_a_b.png',
      videoUrl: 'http://127.0.0.1:4001/videos/1.mp4',
    });
    const elsewhere = insertTask(db, {
      userId: user.id,
      channelId: first.channelId,
      imageUrl: 'https://cdn.example/x.png',
    });
    const lookalike = insertTask(db, {
      userId: user.id,
      channelId: first.channelId,
      imageUrl: 'http://127.0.0.1:40017/x.png',
    });
    const foreign = insertTask(db, {
      userId: user.id,
      channelId: other,
      imageUrl: 'http://127.0.0.1:4001/images/user_a_b.png',
    });

    const again = await ensureDemoSetup(store, systemClock, 'http://127.0.0.1:4001', 'k2');
    expect(again.movedFrom).toBeNull();
    expect(getTask(db, mine.id)!.imageUrl).toBe('http://127.0.0.1:4001/images/user_a_b.png');

    const moved = await ensureDemoSetup(store, systemClock, 'http://127.0.0.1:5002', 'k3');
    expect(moved.movedFrom).toBe('http://127.0.0.1:4001');
    expect(moved.channelId).toBe(first.channelId);
    expect(getTask(db, mine.id)).toMatchObject({
      imageUrl: 'http://127.0.0.1:5002/images/user_a_b.png',
      videoUrl: 'http://127.0.0.1:5002/videos/1.mp4',
    });
    expect(getTask(db, elsewhere.id)!.imageUrl).toBe('https://cdn.example/x.png');
    expect(getTask(db, lookalike.id)!.imageUrl).toBe('http://127.0.0.1:40017/x.png');
    expect(getTask(db, foreign.id)!.imageUrl).toBe('http://127.0.0.1:4001/images/user_a_b.png');
  });
});
