import type { TaskFeed } from './domain/task-feed.ts';
import type { Logger } from './lib/logger.ts';

/**
 * Clean shutdown (SPEC §3): stop accepting, end every live-update stream and keep-alive
 * connection, stop the poller (its running tick finishes, its lease is released), close the
 * database; gone within 5 s whatever clients are connected, and at once on a second signal.
 */

/** Past this the process exits whatever is still running: SPEC §3's 5 s, less a margin for exit itself. */
export const SHUTDOWN_DEADLINE_MS = 4500;
/** How long requests in flight (not live streams, which end at once) may take before their connections are closed. */
const DRAIN_GRACE_MS = 2000;
/** Background work (poller tick, webhook batch) gets this long, so the database still closes before the deadline. */
const WORK_GRACE_MS = 3000;

/** The part of Bun's server shutdown needs: stop(false) stops accepting and closes idle keep-alives; stop(true) closes the rest. */
export interface StoppableServer {
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/**
 * The same feed, but every subscription also ends when `shutdown` aborts: a live-update stream
 * otherwise never ends, and the server's graceful stop would wait on it forever.
 */
export function feedEndingOn(feed: TaskFeed, shutdown: AbortSignal): TaskFeed {
  return {
    publish: (ids) => feed.publish(ids),
    publishWritten: (tasks) => feed.publishWritten(tasks),
    async *subscribe(scope, fromEventId, signal, bounds) {
      const both = new AbortController();
      const end = () => both.abort();
      if (signal.aborted || shutdown.aborted) end();
      signal.addEventListener('abort', end);
      shutdown.addEventListener('abort', end);
      try {
        yield* feed.subscribe(scope, fromEventId, both.signal, bounds);
      } finally {
        signal.removeEventListener('abort', end);
        shutdown.removeEventListener('abort', end);
      }
    },
    watch: watchEndingOn(feed.watch.bind(feed), shutdown),
  };
}

/** A feed's `watch`, whose watchers end with the shutdown too. */
function watchEndingOn(watch: TaskFeed['watch'], shutdown: AbortSignal): TaskFeed['watch'] {
  return (scope, fromEventId, signal, bounds, sink) => {
    const both = new AbortController();
    const end = () => both.abort();
    if (signal.aborted || shutdown.aborted) end();
    signal.addEventListener('abort', end, { once: true });
    shutdown.addEventListener('abort', end, { once: true });
    both.signal.addEventListener(
      'abort',
      () => {
        signal.removeEventListener('abort', end);
        shutdown.removeEventListener('abort', end);
      },
      { once: true },
    );
    watch(scope, fromEventId, both.signal, bounds, sink);
  };
}

export interface ShutdownSteps {
  logger: Logger;
  /** The listening server, if it got that far. */
  server: () => StoppableServer | null | undefined;
  /** Ends every live-update stream (aborts the signal given to feedEndingOn). */
  endStreams: () => void;
  /** Stops the background work: the poller (after its running tick, releasing its lease), webhooks, option checks. */
  stopWork: () => Promise<void>;
  /** Last: the demo simulator and the database. */
  close: () => Promise<void>;
  exit?: (code: number) => never;
  /** SHUTDOWN_DEADLINE_MS unless a test says otherwise. */
  deadlineMs?: number;
}

const SIGNAL_NUMBER: Record<string, number> = { SIGINT: 2, SIGTERM: 15 };

const sleep = (ms: number) => new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms));

export interface Shutdown {
  /** What a signal does: the first starts the shutdown, a second exits at once. */
  onSignal(signal: string): void;
  /** Whether a shutdown has begun (start-up then starts nothing more). */
  stopping(): boolean;
}

/** The shutdown sequence, driven by onSignal; installShutdown wires it to the process. */
export function createShutdown(steps: ShutdownSteps): Shutdown {
  const exit = steps.exit ?? ((code: number) => process.exit(code));
  const { logger } = steps;
  const deadlineMs = steps.deadlineMs ?? SHUTDOWN_DEADLINE_MS;
  let stopping = false;

  async function shutdown(signal: string): Promise<void> {
    logger.info('shutting down', { signal });
    const deadline = setTimeout(() => {
      logger.warn('shutdown deadline passed; exiting now', { deadlineMs });
      exit(1);
    }, deadlineMs);
    const server = steps.server();
    // Stop accepting now; idle keep-alive connections close with it, busy ones when their answer is out.
    const drained = server ? server.stop(false) : Promise.resolve();
    steps.endStreams();
    // Not behind the connections: the lease is released even while a slow client holds one open.
    const work = steps.stopWork().then(
      () => 'done' as const,
      (err: unknown) => {
        logger.warn('stopping background work failed', { error: err instanceof Error ? err.message : String(err) });
        return 'done' as const;
      },
    );
    const http = Promise.race([drained.then(() => 'done' as const), sleep(DRAIN_GRACE_MS)]).then(async (outcome) => {
      if (outcome === 'timeout') logger.warn('closing connections still busy', { graceMs: DRAIN_GRACE_MS });
      await server?.stop(true);
    });
    const [workOutcome] = await Promise.all([Promise.race([work, sleep(WORK_GRACE_MS)]), http]);
    if (workOutcome === 'timeout')
      logger.warn('background work still running; closing anyway', { graceMs: WORK_GRACE_MS });
    try {
      await steps.close();
    } catch (err) {
      logger.warn('closing failed', { error: err instanceof Error ? err.message : String(err) });
    }
    clearTimeout(deadline);
    exit(0);
  }

  return {
    onSignal(signal) {
      if (stopping) {
        // The operator insists: no more waiting.
        exit(128 + (SIGNAL_NUMBER[signal] ?? 1));
        return;
      }
      stopping = true;
      void shutdown(signal);
    },
    stopping: () => stopping,
  };
}

/** Runs the shutdown on SIGINT/SIGTERM; a second signal exits at once. */
export function installShutdown(steps: ShutdownSteps): Shutdown {
  const shutdown = createShutdown(steps);
  process.on('SIGINT', () => shutdown.onSignal('SIGINT'));
  process.on('SIGTERM', () => shutdown.onSignal('SIGTERM'));
  return shutdown;
}
