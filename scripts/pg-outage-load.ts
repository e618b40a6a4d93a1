/**
 * How many gateway replicas survive PostgreSQL crashes under submit load (issue 14, fault 1):
 * REPLICAS processes on one private cluster, WORKERS concurrent mixed submits across them, and
 * OUTAGES times `pg_ctl stop -m immediate`, a few seconds down, then started again.
 *   bun scripts/pg-outage-load.ts            (REPLICAS=3 WORKERS=12 OUTAGES=5 DOWN_MS=3000)
 */
import postgres from 'postgres';
import { startSimulator } from '../src/simulator/index.ts';
import { startPrivateCluster } from '../tests/helpers/pg-cluster.ts';
import {
  createLoadUser,
  LOAD_ROOT,
  type Replica,
  spawnReplica,
  startLoad,
  trpcCall,
  UNBALANCED_USERS_SQL,
} from '../tests/helpers/replica-load.ts';

const REPLICAS = Number(process.env.REPLICAS ?? 3);
const WORKERS = Number(process.env.WORKERS ?? 12);
const OUTAGES = Number(process.env.OUTAGES ?? 5);
const DOWN_MS = Number(process.env.DOWN_MS ?? 3000);
const SECRET = 'outage-load-secret';

const cluster = startPrivateCluster();
const sim = await startSimulator({ secret: SECRET, stepMs: 50, imageSize: 16 });
const replicas: Replica[] = await Promise.all(
  Array.from({ length: REPLICAS }, (_, i) => spawnReplica(`r${i}`, cluster.url)),
);
try {
  await trpcCall(replicas[0]!.url, 'admin.channel.create', { name: 'sim', base_url: sim.url, key: SECRET }, LOAD_ROOT);
  const user = await createLoadUser(replicas[0]!.url, 'load', 1_000_000_000);
  const load = startLoad(() => replicas, user, WORKERS);
  for (let i = 1; i <= OUTAGES; i++) {
    await Bun.sleep(1500);
    cluster.halt('immediate');
    await Bun.sleep(DOWN_MS);
    cluster.resume();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const up = await Promise.all(
        replicas
          .filter((r) => r.alive())
          .map((r) =>
            fetch(`${r.url}/healthz`).then(
              (x) => x.status === 200,
              () => false,
            ),
          ),
      );
      if (up.every(Boolean)) break;
      await Bun.sleep(100);
    }
    console.log(`outage ${i}: ${replicas.filter((r) => r.alive()).length}/${REPLICAS} replicas alive`);
  }
  const stats = await load.stop();
  const sql = postgres(cluster.url, { max: 1, onnotice: () => {} });
  const rows = await sql.unsafe<{ quota: number; from_logs: number }[]>(UNBALANCED_USERS_SQL);
  await sql.end();
  console.log(
    `survivors: ${replicas.filter((r) => r.alive()).length} of ${REPLICAS} after ${OUTAGES} outages; answers ok ${stats.ok}, 503 ${stats.unavailable}, other ${JSON.stringify([...stats.other])}`,
  );
  const caught = replicas.map((r) => (r.out().match(/unhandled rejection|uncaught exception/g) ?? []).length);
  console.log(`slowest 503: ${stats.slowest503Ms} ms; safety-net catches per replica: ${caught.join(', ')}`);
  console.log(
    `books: ${rows.filter((r) => Number(r.from_logs) !== Number(r.quota)).length} of ${rows.length} users unbalanced`,
  );
  for (const r of replicas) {
    if (!r.alive())
      console.log(`--- ${r.name} died (exit ${r.proc.exitCode ?? r.proc.signalCode}):\n${r.err().slice(-4000)}`);
  }
} finally {
  for (const r of replicas) if (r.alive()) r.proc.kill('SIGKILL');
  await Promise.all(replicas.map((r) => r.proc.exited));
  await sim.stop();
  cluster.stop();
}
process.exit(0);
