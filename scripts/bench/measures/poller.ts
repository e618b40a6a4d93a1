import { openDatabase } from '../../../src/db/client.ts';
import { startWalCheckpointer } from '../../../src/db/sqlite/checkpointer.ts';
import { createSqliteStore } from '../../../src/db/sqlite/store.ts';
import { createSqliteSyncStore } from '../../../src/db/sqlite/sync.ts';
import { createPoller } from '../../../src/jobs/poller.ts';
import { systemClock } from '../../../src/lib/clock.ts';
import { silentLogger } from '../../../src/lib/logger.ts';
import type { BenchContext } from '../context.ts';
import { runLoad } from '../load.ts';
import { fmtCount, progress } from '../log.ts';
import { type Child, spawnSimulator } from '../procs.ts';
import type { Measurement } from '../report.ts';
import { CHANNELS, freshDatabase, HEAVY_USER } from '../seed.ts';

/**
 * Poller (SPEC §12): one tick over N unfinished tasks on 4 channels (4 simulator processes), run
 * in-process through createPoller().runOnce(), against the same list-by-condition calls made
 * directly (same batches, channels concurrently, each channel's batches in order).
 */

const SECRET = 'sim-secret';
const BATCH = 100;

export async function submitAll(simUrl: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  let n = 0;
  const r = await runLoad(
    async () => {
      const res = await fetch(`${simUrl}/mj/submit/imagine`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'mj-api-secret': SECRET },
        body: JSON.stringify({ prompt: `poller bench task ${n++}` }),
      });
      const body = (await res.json()) as { result?: unknown };
      if (typeof body.result === 'string') ids.push(body.result);
      return res.status;
    },
    { concurrency: 16, durationMs: 120_000, maxCount: count },
  );
  if (r.errors || ids.length !== count)
    throw new Error(`simulator took ${ids.length} of ${count} tasks (${r.firstError ?? ''})`);
  return ids;
}

/**
 * What a tick's upstream part costs without the gateway: the same list-by-condition batches,
 * channels concurrently, each channel's batches in order. Returns ms.
 */
export async function directCalls(sims: readonly Child[], idsByChannel: readonly string[][]): Promise<number> {
  const t0 = performance.now();
  await Promise.all(
    sims.map(async (sim, c) => {
      const ids = idsByChannel[c] ?? [];
      for (let i = 0; i < ids.length; i += BATCH) {
        const res = await fetch(`${sim.url}/mj/task/list-by-condition`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json', 'mj-api-secret': SECRET },
          body: JSON.stringify({ ids: ids.slice(i, i + BATCH) }),
        });
        const items = (await res.json()) as unknown[];
        if (!Array.isArray(items) || items.length !== Math.min(BATCH, ids.length - i))
          throw new Error(`simulator ${c + 1} answered ${Array.isArray(items) ? items.length : 'no'} items`);
      }
    }),
  );
  return performance.now() - t0;
}

export async function pollerMeasures(ctx: BenchContext): Promise<Measurement[]> {
  const total = ctx.settings.pollerTasks;
  const perChannel = Math.ceil(total / CHANNELS);
  progress(`poller: starting ${CHANNELS} simulators, submitting ${fmtCount(total)} tasks`);
  const sims = await Promise.all(
    Array.from({ length: CHANNELS }, (_, i) => spawnSimulator(`sim-poll-${i + 1}`, SECRET).then((c) => ctx.own(c))),
  );
  const idsByChannel = await Promise.all(sims.map((s) => submitAll(s.url, perChannel)));
  const path = freshDatabase(
    ctx.runDir,
    'poller',
    sims.map((s) => s.url),
  );
  const db = openDatabase(path);
  const sqlite = db.$client;
  // As src/index.ts runs a file database: WAL checkpoints in a worker, not inside the tick's commits.
  const checkpointer = startWalCheckpointer(db, path);
  try {
    const insert =
      sqlite.prepare(`INSERT INTO tasks (user_id, token_id, channel_id, action, mj_id, prompt, submit_time, progress, status, quota, updated_time)
      VALUES (?, 1, ?, 'IMAGINE', ?, 'poller bench task', ?, '0%', 'SUBMITTED', 50000, ?)`);
    const now = Date.now();
    sqlite.transaction(() => {
      idsByChannel.forEach((ids, c) => {
        for (const id of ids) insert.run(HEAVY_USER.id, c + 1, id, now, now);
      });
    })();
    // Reset to a state no upstream answer equals (an empty status), so every tick writes every row:
    // right after a submit the simulator still says SUBMITTED 0%, which a reset to that would match.
    const reset =
      sqlite.prepare(`UPDATE tasks SET progress = '0%', status = '', start_time = 0, finish_time = 0, image_url = '',
      prompt_en = '', buttons = '', properties = '', fail_reason = '', state = '' WHERE progress <> '0%' OR status <> ''`);
    const direct = () => directCalls(sims, idsByChannel);
    const poller = createPoller({
      store: createSqliteStore(db),
      taskStore: { sync: createSqliteSyncStore(db) },
      logger: silentLogger,
      clock: systemClock,
      fetch: globalThis.fetch,
      config: { pollIntervalMs: 3_600_000, pollBatchSize: BATCH, taskTimeoutMs: 3_600_000, upstreamTimeoutMs: 60_000 },
    });
    const ticks: number[] = [];
    const directs: number[] = [];
    const updated: number[] = [];
    let unusable = 0;
    for (let round = 1; round <= ctx.settings.pollerRounds; round++) {
      reset.run();
      directs.push(await direct());
      reset.run();
      const t0 = performance.now();
      const report = await poller.runOnce();
      ticks.push(performance.now() - t0);
      if (report.unfinished !== total || report.channelErrors) {
        throw new Error(`tick saw ${report.unfinished} unfinished of ${total}, ${report.channelErrors} channel errors`);
      }
      updated.push(report.updated);
      unusable += report.invalid + report.unknown;
      progress(
        `  round ${round}: tick ${ticks.at(-1)?.toFixed(0)} ms (${report.updated} updated), direct calls ${directs.at(-1)?.toFixed(0)} ms`,
      );
    }
    await poller.stop();
    return [
      ctx.measurement({
        id: 'poller.tick',
        label: `poller tick, ${fmtCount(total)} unfinished on ${CHANNELS} channels`,
        product: Math.min(...ticks),
        baseline: Math.min(...directs),
        unit: 'ms',
        baselineLabel: 'same list-by-condition calls direct',
        goal: { kind: 'diff-max', value: 1000 },
        note: `best of ${ticks.length} rounds; ticks ${ticks.map((t) => t.toFixed(0)).join(', ')} ms; direct ${directs.map((t) => t.toFixed(0)).join(', ')} ms; rows written ${updated.join(', ')}; unusable upstream items ${unusable}`,
      }),
    ];
  } finally {
    await checkpointer.stop();
    sqlite.close();
    await Promise.all(sims.map((s) => s.stop()));
  }
}
