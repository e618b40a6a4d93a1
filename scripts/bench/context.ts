import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { progress } from './log.ts';
import { type Child, spawnProduct } from './procs.ts';
import type { Measurement } from './report.ts';
import { BENCH_DIR, ROOT_TOKEN, seededDatabase } from './seed.ts';

/**
 * What the measures share: run settings, the seeded databases and the processes started for them.
 * Every process is started once, on demand, and stopped by close().
 */

export interface Settings {
  /** Listing sizes: `large` is compared with `small`. */
  large: number;
  small: number;
  /** Rounds of alternating product / baseline blocks; each side keeps its best round. */
  rounds: number;
  /** Sequential latency samples per shape and round: at most this many, for at most this long. */
  latencyCount: number;
  latencyMs: number;
  /** Concurrent load runs (loadMs per round and side). */
  concurrency: number;
  loadMs: number;
  /** Unfinished tasks of the poller tick (on 4 channels). */
  pollerTasks: number;
  pollerRounds: number;
  /** Unfinished tasks of the at-scale poller ticks, all on 20 channels (group poller-scale). */
  pollerScale: number[];
  /** Group live: SSE subscribers, steady submits per second, and for how long. */
  liveSubscribers: number;
  liveRate: number;
  liveSeconds: number;
  /** Bytes streamed through the forwarder while its memory is watched. */
  streamBytes: number;
  /** Sequential relay submits for the added-latency measure. */
  relayCount: number;
}

export function settingsFor(quick: boolean, rows: number | null = null): Settings {
  const s: Settings = quick
    ? {
        large: 100_000,
        small: 10_000,
        rounds: 2,
        latencyCount: 25,
        latencyMs: 250,
        concurrency: 32,
        loadMs: 800,
        pollerTasks: 2_000,
        pollerRounds: 3,
        pollerScale: [40_000],
        liveSubscribers: 1_000,
        liveRate: 50,
        liveSeconds: 5,
        streamBytes: 256 * 1024 * 1024,
        relayCount: 100,
      }
    : {
        large: 1_000_000,
        small: 10_000,
        rounds: 3,
        latencyCount: 80,
        latencyMs: 800,
        concurrency: 32,
        loadMs: 3000,
        pollerTasks: 10_000,
        pollerRounds: 3,
        pollerScale: [40_000, 100_000],
        liveSubscribers: 1_000,
        liveRate: 50,
        liveSeconds: 10,
        streamBytes: 1024 * 1024 * 1024,
        relayCount: 400,
      };
  return rows === null ? s : { ...s, large: rows };
}

/** The storage backend of the shared measures; the `pg` group (measures/pg.ts) runs its own PostgreSQL rows. */
export interface Backend {
  name: 'sqlite';
  /** Environment that points the product at this database. */
  productEnv(databasePath: string): Record<string, string>;
}

export const sqliteBackend: Backend = {
  name: 'sqlite',
  productEnv: (databasePath) => ({ DATABASE_PATH: databasePath }),
};

export class BenchContext {
  readonly runDir: string;
  private readonly children: Child[] = [];
  private readonly listingProducts = new Map<number, Promise<Child>>();
  private readonly memo = new Map<string, Promise<unknown>>();
  private readonly databases = new Map<number, string>();

  constructor(
    readonly settings: Settings,
    readonly backend: Backend = sqliteBackend,
  ) {
    this.runDir = join(BENCH_DIR, `run-${process.pid}`);
    mkdirSync(this.runDir, { recursive: true });
  }

  /** Seeded listing database of `size` tasks (cached across runs). */
  database(size: number): string {
    let path = this.databases.get(size);
    if (!path) this.databases.set(size, (path = seededDatabase(size)));
    return path;
  }

  /** Keeps a started process so close() stops it. */
  own<T extends Child>(child: T): T {
    this.children.push(child);
    return child;
  }

  /** The product serving the seeded database of `size` tasks (read-only measures share it). */
  listingProduct(size: number): Promise<Child> {
    let p = this.listingProducts.get(size);
    if (!p) {
      const path = this.database(size);
      progress(`starting the product on ${size.toLocaleString('en-US')} tasks`);
      p = spawnProduct({
        name: `product-${size}`,
        databasePath: path,
        rootToken: ROOT_TOKEN,
        imageCacheDir: join(this.runDir, `images-${size}`),
        extraEnv: this.backend.productEnv(path),
      }).then((c) => this.own(c));
      this.listingProducts.set(size, p);
    }
    return p;
  }

  /** A rig built once per run (simulators, products on scratch databases, raw servers). */
  once<T>(key: string, build: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = build();
      this.memo.set(key, p);
    }
    return p;
  }

  measurement(m: Omit<Measurement, 'backend'>): Measurement {
    return { ...m, backend: this.backend.name };
  }

  async close(): Promise<void> {
    await Promise.all(this.children.splice(0).map((c) => c.stop()));
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
