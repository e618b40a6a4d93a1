import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';

/**
 * Whole-server faults, switchable at run time. `forget` is not a lasting mode: it empties the
 * task store once and the server keeps serving normally (so `setFault('forget')` leaves 'none').
 */
export type SimFault = 'none' | 'http500' | 'garbage' | 'drop' | 'forget';

export const SIM_FAULTS: readonly SimFault[] = ['none', 'http500', 'garbage', 'drop', 'forget'];

/** Options of {@link startSimulator}; every field has a default so tests set only what they need. */
export interface SimulatorOptions {
  /** Port to listen on; 0 (default) picks any free port. */
  port?: number;
  /** Interface to bind; default 127.0.0.1. */
  hostname?: string;
  /** When set, every /mj route requires header `mj-api-secret` equal to it (else HTTP 401, empty body). */
  secret?: string;
  /** Time source; task state is derived lazily from `clock.now() - submit time`, so a ManualClock makes tests deterministic. */
  clock?: Clock;
  /** Duration of one lifecycle step in ms; default 1000. */
  stepMs?: number;
  /** How long a `--sim-slow` submit waits before answering; default 65000 (past a 60 s client timeout). */
  slowMs?: number;
  /** Edge of the generated PNG images in px; default 256. */
  imageSize?: number;
  /** Most tasks kept in memory; the oldest are dropped beyond it. Default 200000. */
  maxTasks?: number;
  logger?: Logger;
  /**
   * POST the task's fetch JSON to its submit's `notifyHook` at each change, as midjourney-proxy
   * does (SIM_NOTIFY). Default true.
   */
  notify?: boolean;
  /** SQLite file that keeps the tasks across restarts (DEMO); unset = memory only. */
  taskFile?: string;
}

/** One request received under /mj, kept so tests can assert what a gateway forwarded. */
export interface SimRequest {
  method: string;
  /** Full path as received, including any `/:mode` prefix, without the query string. */
  path: string;
  /** Value of the `mj-api-secret` header, or null when absent. */
  secret: string | null;
  /** Parsed JSON body; the raw text when it was not JSON; null when there was no body. */
  body: unknown;
}

/** A running simulator. */
export interface Simulator {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:54321. */
  readonly url: string;
  readonly port: number;
  /** Requests received under /mj (the newest 10000 at most, so long benchmarks stay bounded). */
  readonly requests: SimRequest[];
  clearRequests(): void;
  setFault(fault: SimFault): void;
  taskCount(): number;
  /** Closes the server, its open connections and any pending `--sim-slow` answers. */
  stop(): Promise<void>;
}

/** Task actions as midjourney-proxy (Plus/C#) names them. */
export type TaskAction =
  | 'IMAGINE'
  | 'UPSCALE'
  | 'UPSCALE_HD'
  | 'VARIATION'
  | 'REROLL'
  | 'DESCRIBE'
  | 'BLEND'
  | 'SHORTEN'
  | 'PAN'
  | 'ZOOM'
  | 'VIDEO'
  | 'EDIT'
  | 'SWAP_FACE';

export type TaskStatus = 'NOT_START' | 'MODAL' | 'SUBMITTED' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILURE';

/** How a task ends, chosen at submit time from the prompt flags. */
export type TaskOutcome = 'success' | 'fail' | 'hang';

/** Stored task: only the facts fixed at submit; status and times are derived on read. */
export interface SimTask {
  id: string;
  action: TaskAction;
  customId: string | null;
  prompt: string;
  promptEn: string;
  description: string;
  state: string | null;
  notifyHook: string | null;
  finalPrompt: string;
  submitTime: number;
  /** When the lifecycle starts counting (submit, or modal confirmation); null while waiting in MODAL. */
  runFrom: number | null;
  outcome: TaskOutcome;
  /** Job UUID: the `messageHash`, used in customIds and in the final image name. */
  hash: string;
  nonce: string;
  seed: string;
  parentId: string | null;
  /** Image slug for the final file name `user_<slug>_<hash>.png`. */
  slug: string;
  /** Extra properties set at submit (e.g. remix, numberOfQueues). */
  extraProps: Record<string, unknown>;
}

/** Button as midjourney-proxy Plus returns it. */
export interface SimButton {
  customId: string;
  emoji: string;
  label: string;
  style: number;
  type: number;
}

/** Task JSON as served by fetch / list-by-condition. */
export interface TaskView {
  id: string;
  action: TaskAction;
  customId: string | null;
  botType: string;
  status: TaskStatus;
  prompt: string;
  promptEn: string;
  description: string;
  state: string | null;
  submitTime: number;
  startTime: number | null;
  finishTime: number | null;
  imageUrl: string | null;
  videoUrl: string | null;
  videoUrls: { url: string }[] | null;
  progress: string | null;
  failReason: string | null;
  properties: Record<string, unknown>;
  buttons: SimButton[];
}

/** midjourney-proxy's SubmitResultVO envelope. */
export interface SubmitResult {
  code: number;
  description: string;
  result: string | string[] | null;
  properties: Record<string, unknown>;
}

/** What a handler returns: the HTTP status and the JSON body. */
export interface JsonAnswer {
  status: number;
  body: unknown;
}
