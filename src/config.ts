import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import type { S3Location } from './images/s3-store.ts';
import type { LogLevel } from './lib/logger.ts';

/**
 * The only reader of process.env. Every variable of SPEC §3, its default and its validation live
 * here; anything invalid stops start-up with one line naming the variable (exit code 2).
 */

const intFrom = (name: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `${name} must be a whole number`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `${name} must be between ${min} and ${max}`);

const boolFrom = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), `${name} must be true or false`)
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const urlFrom = (name: string) =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'http:' || u.protocol === 'https:';
      } catch {
        return false;
      }
    }, `${name} must be an http(s) URL`)
    .transform((v) => v.replace(/\/+$/, ''));

/** `s3://bucket/prefix`: a bucket name as S3 allows it, then an optional key prefix. */
const S3_URL = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/([^\s]*))?$/;

const envSchema = z.object({
  PORT: intFrom('PORT', 0, 65535).default(3000),
  HOST: z.string().trim().min(1, 'HOST must not be empty').default('0.0.0.0'),
  DATABASE_PATH: z.string().trim().min(1, 'DATABASE_PATH must not be empty').default('./data/mj-gateway.db'),
  // postgres:// or postgresql:// selects PostgreSQL (checked when it is opened, so the URL, which
  // may hold a password, is never echoed by a validation message).
  DATABASE_URL: z.string().trim().optional(),
  DATABASE_POOL_SIZE: intFrom('DATABASE_POOL_SIZE', 1, 1000).default(10),
  SERVER_ADDRESS: urlFrom('SERVER_ADDRESS').optional(),
  INITIAL_ROOT_ACCESS_TOKEN: z
    .string()
    .trim()
    .min(8, 'INITIAL_ROOT_ACCESS_TOKEN must be at least 8 characters')
    .max(128, 'INITIAL_ROOT_ACCESS_TOKEN must be at most 128 characters')
    .optional(),
  UPDATE_TASK: boolFrom('UPDATE_TASK').default(true),
  POLL_INTERVAL_MS: intFrom('POLL_INTERVAL_MS', 1).default(15000),
  POLL_LEASE_MS: intFrom('POLL_LEASE_MS', 1).default(30000),
  POLL_BATCH_SIZE: intFrom('POLL_BATCH_SIZE', 1, 10000).default(100),
  TASK_TIMEOUT_MS: intFrom('TASK_TIMEOUT_MS', 1).default(3_600_000),
  UPSTREAM_TIMEOUT_MS: intFrom('UPSTREAM_TIMEOUT_MS', 1).default(60_000),
  SUBMIT_FAILOVER: intFrom('SUBMIT_FAILOVER', 0, 20).default(2),
  RELAY_RATE_LIMIT_PER_MINUTE: intFrom('RELAY_RATE_LIMIT_PER_MINUTE', 0, 1_000_000).default(0),
  LIVE_STREAMS_PER_USER: intFrom('LIVE_STREAMS_PER_USER', 1, 100_000).default(8),
  IMAGE_FETCH_ALLOW_PRIVATE: boolFrom('IMAGE_FETCH_ALLOW_PRIVATE').default(false),
  WEBHOOK_ALLOW_PRIVATE: boolFrom('WEBHOOK_ALLOW_PRIVATE').default(false),
  DEMO: boolFrom('DEMO').default(false),
  DEMO_PORT: intFrom('DEMO_PORT', 0, 65535).optional(),
  CORS_ORIGINS: z.string().trim().default('*'),
  METRICS_PUBLIC: boolFrom('METRICS_PUBLIC').default(false),
  IMAGE_CACHE_DIR: z.string().trim().min(1).optional(),
  ARCHIVE_DIR: z.string().trim().min(1, 'ARCHIVE_DIR must not be empty').optional(),
  // Megabytes, fractions allowed (a test store of a few KB is `0.01`); 0 turns the store off.
  IMAGE_CACHE_MAX_MB: z
    .string()
    .trim()
    .regex(/^\d{1,9}(\.\d{1,6})?$/, 'IMAGE_CACHE_MAX_MB must be a number of megabytes')
    .transform(Number)
    .default(2048),
  // s3://<bucket>/<prefix>: the image store in an S3-compatible bucket (unset: the local folder).
  IMAGE_STORE: z
    .string()
    .trim()
    .regex(S3_URL, 'IMAGE_STORE must be s3://<bucket>/<prefix> (unset: the local folder store)')
    .optional(),
  // Credentials are never echoed: the messages below name the variable only.
  S3_ENDPOINT: urlFrom('S3_ENDPOINT').optional(),
  S3_REGION: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]{1,40}$/, 'S3_REGION must be a region name')
    .optional(),
  S3_ACCESS_KEY_ID: z.string().trim().optional(),
  S3_SECRET_ACCESS_KEY: z.string().trim().optional(),
  IMAGE_REDIRECT: boolFrom('IMAGE_REDIRECT').default(false),
  READ_WORKERS: intFrom('READ_WORKERS', 0, 64).optional(),
  LOG_LEVEL: z
    .enum(['debug', 'info', 'warn', 'error'], { message: 'LOG_LEVEL must be debug, info, warn or error' })
    .default('info'),
  // Runtime option overrides, read at first start only (SPEC §3 runtime options).
  MJ_FORWARD_URL_ENABLED: boolFrom('MJ_FORWARD_URL_ENABLED').optional(),
  MJ_ACTION_CHECK_SUCCESS_ENABLED: boolFrom('MJ_ACTION_CHECK_SUCCESS_ENABLED').optional(),
  MJ_NOTIFY_ENABLED: boolFrom('MJ_NOTIFY_ENABLED').optional(),
  MJ_ACCOUNT_FILTER_ENABLED: boolFrom('MJ_ACCOUNT_FILTER_ENABLED').optional(),
  MJ_MODE_CLEAR_ENABLED: boolFrom('MJ_MODE_CLEAR_ENABLED').optional(),
  MJ_PRICES: z.string().trim().optional(),
  MJ_WEBHOOKS_ENABLED: boolFrom('MJ_WEBHOOKS_ENABLED').optional(),
  MJ_UPSTREAM_NOTIFY_ENABLED: boolFrom('MJ_UPSTREAM_NOTIFY_ENABLED').optional(),
  UPSTREAM_NOTIFY_BASE_URL: z
    .string()
    .trim()
    .regex(/^https?:\/\/[^\s]+$/i, 'UPSTREAM_NOTIFY_BASE_URL must be an http(s) URL')
    .optional(),
});

export interface Config {
  /** Listen port; 0 picks a free one. */
  readonly port: number;
  readonly host: string;
  /** SQLite file path or `:memory:`. */
  readonly databasePath: string;
  /** PostgreSQL instead of SQLite when set (SPEC §13). */
  readonly databaseUrl: string | null;
  readonly databasePoolSize: number;
  /** Public base URL for forwarded image links; `null` = derive from the listening port. */
  readonly serverAddress: string | null;
  readonly initialRootAccessToken: string | null;
  /** Run the background poller in this process. */
  readonly updateTask: boolean;
  readonly pollIntervalMs: number;
  /** How long the poller leader's lease lasts without renewal; a dead leader is replaced after it. */
  readonly pollLeaseMs: number;
  readonly pollBatchSize: number;
  /** Unfinished tasks older than this (by local submit time) are failed and refunded. */
  readonly taskTimeoutMs: number;
  readonly upstreamTimeoutMs: number;
  /** How many more channels a new job may try when its channel refuses it (SPEC §15). */
  readonly submitFailover: number;
  /** Relay submits per key per minute for keys that set none; 0 = unlimited. */
  readonly relayRateLimitPerMinute: number;
  /** Open live-update streams one user may hold (SPEC §10: 8); a wall of dashboards may want more. */
  readonly liveStreamsPerUser: number;
  readonly imageFetchAllowPrivate: boolean;
  /** Let webhooks go to private/loopback addresses (SPEC §15); off, they are refused like §9's. */
  readonly webhookAllowPrivate: boolean;
  readonly demo: boolean;
  /** Port of the DEMO simulator: stable (PORT+1 by default) so stored image links survive a restart; 0 = any. */
  readonly demoPort: number;
  /** Allowed browser origins; `['*']` allows any. */
  readonly corsOrigins: readonly string[];
  /**
   * Folder of the image store (SPEC §9); `null` = no store. Defaults to `images/` next to the
   * database file; a `:memory:` database has no folder, so its store is off unless set explicitly.
   */
  readonly imageCacheDir: string | null;
  /**
   * Folder of the retention archives (SPEC §17): `archive/` next to the SQLite file; `./data/archive`
   * on PostgreSQL and for `:memory:`.
   */
  readonly archiveDir: string;
  /** Size bound of the image store in bytes (IMAGE_CACHE_MAX_MB × 1 MiB); 0 = no store. */
  readonly imageCacheMaxBytes: number;
  /**
   * The image store in an S3-compatible bucket (IMAGE_STORE=s3://…, SPEC §18), shared by every
   * replica; `null` = the local folder. IMAGE_CACHE_MAX_MB then bounds each replica's local copy.
   */
  readonly s3: S3Settings | null;
  /** Answer a stored image with a redirect to a presigned URL of the bucket (S3 only). */
  readonly imageRedirect: boolean;
  readonly logLevel: LogLevel;
  /**
   * Worker threads that run task listings on their own read-only connections, so a listing never
   * holds up other requests; 0 = listings run on the main thread (always so for `:memory:`).
   */
  readonly readWorkers: number;
  /** Serve `/metrics` without admin auth (a scraper on a private network). */
  readonly metricsPublic: boolean;
  /** Base URL of the hooks forwarded jobs carry (SPEC §16); `null` = the server address. */
  readonly upstreamNotifyBaseUrl: string | null;
  /** Raw environment overrides for runtime options (applied at first start only). */
  readonly optionOverrides: Readonly<Record<string, string>>;
}

/** Where the bucket is and how to reach it (the image store's own type). The secret is never logged or echoed. */
export type S3Settings = S3Location;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

const OPTION_ENV: Record<string, string> = {
  MJ_FORWARD_URL_ENABLED: 'mj_forward_url_enabled',
  MJ_ACTION_CHECK_SUCCESS_ENABLED: 'mj_action_check_success_enabled',
  MJ_NOTIFY_ENABLED: 'mj_notify_enabled',
  MJ_ACCOUNT_FILTER_ENABLED: 'mj_account_filter_enabled',
  MJ_MODE_CLEAR_ENABLED: 'mj_mode_clear_enabled',
  MJ_PRICES: 'mj_prices',
  MJ_WEBHOOKS_ENABLED: 'mj_webhooks_enabled',
  MJ_UPSTREAM_NOTIFY_ENABLED: 'mj_upstream_notify_enabled',
};

/** The variables of `shape` that are set; an empty one counts as unset (`VAR= cmd`). */
function setVariables(env: Record<string, string | undefined>, shape: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== '') out[key] = v;
  }
  return out;
}

/** Parse or throw one ConfigError line naming the first bad variable. */
function parseEnv<T extends z.ZodType>(schema: T, vars: Record<string, string>): z.infer<T> {
  const parsed = schema.safeParse(vars);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = String(issue?.path[0] ?? 'environment');
  const message = issue?.message ?? 'invalid value';
  // Most messages name their variable already ("PORT must be a whole number"): said once, not twice.
  throw new ConfigError(`invalid configuration: ${message.startsWith(`${name} `) ? message : `${name}: ${message}`}`);
}

const S3_VARIABLES = ['S3_ENDPOINT', 'S3_REGION', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const;

/** The bucket IMAGE_STORE names, with the S3_* variables it needs; one line naming what is missing. */
function s3Settings(e: z.infer<typeof envSchema>): S3Settings | null {
  if (e.IMAGE_STORE === undefined) {
    const stray = S3_VARIABLES.find((name) => e[name] !== undefined);
    if (stray)
      throw new ConfigError(`invalid configuration: ${stray} is set but IMAGE_STORE is not s3://<bucket>/<prefix>`);
    if (e.IMAGE_REDIRECT)
      throw new ConfigError('invalid configuration: IMAGE_REDIRECT=true needs IMAGE_STORE=s3://<bucket>/<prefix>');
    return null;
  }
  const m = S3_URL.exec(e.IMAGE_STORE);
  for (const name of ['S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const) {
    if (!e[name]) throw new ConfigError(`invalid configuration: ${name} is required with IMAGE_STORE=s3://…`);
  }
  const rawPrefix = (m?.[2] ?? '').replace(/^\/+|\/+$/g, '');
  return Object.freeze({
    bucket: m?.[1] ?? '',
    prefix: rawPrefix ? `${rawPrefix}/` : '',
    endpoint: e.S3_ENDPOINT ?? '',
    region: e.S3_REGION ?? 'us-east-1',
    accessKeyId: e.S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: e.S3_SECRET_ACCESS_KEY ?? '',
  });
}

/** Parse an environment (process.env by default) into a frozen config, or throw ConfigError. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = setVariables(env, envSchema.shape);
  const e = parseEnv(envSchema, cleaned);
  const optionOverrides: Record<string, string> = {};
  for (const [envName, optionKey] of Object.entries(OPTION_ENV)) {
    const raw = cleaned[envName];
    if (raw !== undefined)
      optionOverrides[optionKey] = envName === 'MJ_PRICES' ? raw : String(e[envName as keyof typeof e]);
  }
  // DEMO turns upstream push on (SPEC §16), unless the variable says otherwise.
  if (e.DEMO && optionOverrides.mj_upstream_notify_enabled === undefined)
    optionOverrides.mj_upstream_notify_enabled = 'true';
  const corsOrigins = e.CORS_ORIGINS.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databasePath: e.DATABASE_PATH,
    databaseUrl: e.DATABASE_URL || null,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    serverAddress: e.SERVER_ADDRESS ?? null,
    initialRootAccessToken: e.INITIAL_ROOT_ACCESS_TOKEN ?? null,
    updateTask: e.UPDATE_TASK,
    pollIntervalMs: e.POLL_INTERVAL_MS,
    pollLeaseMs: e.POLL_LEASE_MS,
    pollBatchSize: e.POLL_BATCH_SIZE,
    taskTimeoutMs: e.TASK_TIMEOUT_MS,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    submitFailover: e.SUBMIT_FAILOVER,
    relayRateLimitPerMinute: e.RELAY_RATE_LIMIT_PER_MINUTE,
    liveStreamsPerUser: e.LIVE_STREAMS_PER_USER,
    imageFetchAllowPrivate: e.IMAGE_FETCH_ALLOW_PRIVATE,
    webhookAllowPrivate: e.WEBHOOK_ALLOW_PRIVATE,
    demo: e.DEMO,
    demoPort: e.DEMO_PORT ?? (e.PORT === 0 || e.PORT === 65535 ? 0 : e.PORT + 1),
    corsOrigins: corsOrigins.length ? corsOrigins : ['*'],
    archiveDir:
      e.ARCHIVE_DIR ??
      (e.DATABASE_URL || e.DATABASE_PATH === ':memory:'
        ? join('data', 'archive')
        : join(dirname(e.DATABASE_PATH), 'archive')),
    imageCacheDir:
      e.IMAGE_CACHE_DIR ?? (e.DATABASE_PATH === ':memory:' ? null : join(dirname(e.DATABASE_PATH), 'images')),
    imageCacheMaxBytes: Math.floor(e.IMAGE_CACHE_MAX_MB * 1024 * 1024),
    s3: s3Settings(e),
    imageRedirect: e.IMAGE_REDIRECT,
    logLevel: e.LOG_LEVEL,
    readWorkers: e.READ_WORKERS ?? Math.min(2, availableParallelism()),
    metricsPublic: e.METRICS_PUBLIC,
    upstreamNotifyBaseUrl: e.UPSTREAM_NOTIFY_BASE_URL ?? null,
    optionOverrides: Object.freeze(optionOverrides),
  });
}

const simulatorEnvSchema = z.object({
  SIM_PORT: intFrom('SIM_PORT', 0, 65535).default(8090),
  SIM_HOST: z.string().trim().min(1).default('127.0.0.1'),
  SIM_SECRET: z.string().optional(),
  SIM_STEP_MS: intFrom('SIM_STEP_MS', 0).default(1000),
  SIM_SLOW_MS: intFrom('SIM_SLOW_MS', 0).default(65000),
  SIM_NOTIFY: boolFrom('SIM_NOTIFY').default(true),
  SIM_IMAGE_SIZE: intFrom('SIM_IMAGE_SIZE', 16, 4096).default(256),
});

export interface SimulatorConfig {
  readonly port: number;
  readonly host: string;
  /** Required `mj-api-secret`; `null` = no auth. */
  readonly secret: string | null;
  readonly stepMs: number;
  readonly slowMs: number;
  /** POST each task change to its submit's notifyHook (SPEC §11). */
  readonly notify: boolean;
  /** Edge of the generated PNG images in px (SIM_IMAGE_SIZE; 2048 = Midjourney's full-size grids, SPEC §18). */
  readonly imageSize: number;
}

/** Environment of the standalone simulator (`bun run simulator`); same rules as loadConfig. */
export function loadSimulatorConfig(env: Record<string, string | undefined> = process.env): SimulatorConfig {
  const e = parseEnv(simulatorEnvSchema, setVariables(env, simulatorEnvSchema.shape));
  return Object.freeze({
    port: e.SIM_PORT,
    host: e.SIM_HOST,
    secret: e.SIM_SECRET ?? null,
    stepMs: e.SIM_STEP_MS,
    slowMs: e.SIM_SLOW_MS,
    notify: e.SIM_NOTIFY,
    imageSize: e.SIM_IMAGE_SIZE,
  });
}
