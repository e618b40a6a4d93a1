import { z } from 'zod';
import type { OptionRow, OptionRowStore } from '../contract/index.ts';
import { AppError } from './errors.ts';

/** USD per call for each model (SPEC §7.4); quota = price × QUOTA_PER_UNIT. */
export const DEFAULT_PRICES: Readonly<Record<string, number>> = Object.freeze({
  mj_imagine: 0.1,
  mj_edits: 0.1,
  mj_variation: 0.1,
  mj_reroll: 0.1,
  mj_blend: 0.1,
  mj_modal: 0.1,
  mj_zoom: 0.1,
  mj_shorten: 0.1,
  mj_high_variation: 0.1,
  mj_low_variation: 0.1,
  mj_pan: 0.1,
  mj_video: 0.8,
  mj_describe: 0.05,
  mj_upscale: 0.05,
  swap_face: 0.05,
  mj_upload: 0.05,
  mj_inpaint: 0,
  mj_custom_zoom: 0,
});

export const QUOTA_PER_UNIT = 500_000;

/**
 * The largest quota one call may cost: 1e12 quota is 2,000,000 USD. Far above any real price, and
 * far below 2^53, so sums of charges in the integer quota columns stay exact.
 */
export const MAX_PRICE_QUOTA = 1e12;
/** Model names are short identifiers; the object is bounded like any client input. */
const MAX_MODEL_NAME_LENGTH = 64;
const MAX_PRICED_MODELS = 256;

/**
 * Why `usd` is not a usable price, or null. The quota it gives (usd × QUOTA_PER_UNIT) must be
 * finite, non-negative, whole (a price is a whole number of quota units, i.e. a multiple of
 * 0.000002 USD; float noise such as 0.1 × 500000 is tolerated), at most MAX_PRICE_QUOTA, and a
 * non-zero price must not round to a free call.
 */
export function priceProblem(usd: unknown): string | null {
  if (typeof usd !== 'number' || !Number.isFinite(usd)) return 'is not a finite number';
  if (usd < 0) return 'is negative';
  const quota = usd * QUOTA_PER_UNIT;
  if (quota > MAX_PRICE_QUOTA)
    return `is above the ceiling of ${MAX_PRICE_QUOTA / QUOTA_PER_UNIT} USD (${MAX_PRICE_QUOTA} quota)`;
  const whole = Math.round(quota);
  if (usd > 0 && whole === 0) return `is below one quota unit (${1 / QUOTA_PER_UNIT} USD) and would make calls free`;
  if (Math.abs(quota - whole) > 1e-6 * Math.max(1, quota))
    return `is ${quota} quota, not a whole number of quota units (multiples of ${1 / QUOTA_PER_UNIT} USD)`;
  return null;
}

const pricesSchema = z
  .record(
    z
      .string()
      .min(1, 'model name is empty')
      .max(MAX_MODEL_NAME_LENGTH, `model name is longer than ${MAX_MODEL_NAME_LENGTH} characters`),
    // Checked below rather than by z.number(), so that every refusal names its model.
    z.unknown(),
  )
  .superRefine((prices, ctx) => {
    const models = Object.keys(prices);
    if (models.length > MAX_PRICED_MODELS)
      ctx.addIssue({ code: 'custom', message: `at most ${MAX_PRICED_MODELS} models may be priced` });
    for (const model of models) {
      const problem = priceProblem(prices[model]);
      if (problem) ctx.addIssue({ code: 'custom', path: [model], message: `price of ${model} ${problem}` });
    }
  })
  .transform((prices) => prices as Record<string, number>);

/** At most a thousand years: far past any retention, and cutoffs stay far inside the ms range. */
const MAX_RETENTION_DAYS = 365_000;
function retentionDays(key: string) {
  return z
    .number({ message: `${key} must be a number of days` })
    .int(`${key} must be a whole number of days`)
    .min(0, `${key} must not be negative (0 keeps everything)`)
    .max(MAX_RETENTION_DAYS, `${key} must be at most ${MAX_RETENTION_DAYS}`);
}

/** Every runtime option: its schema (validates admin updates) and its default. */
const DEFINITIONS = {
  mj_forward_url_enabled: { schema: z.boolean(), default: true },
  mj_action_check_success_enabled: { schema: z.boolean(), default: true },
  mj_notify_enabled: { schema: z.boolean(), default: false },
  mj_account_filter_enabled: { schema: z.boolean(), default: false },
  mj_mode_clear_enabled: { schema: z.boolean(), default: false },
  mj_webhooks_enabled: { schema: z.boolean(), default: true },
  /** Forwarded jobs carry the gateway's own notifyHook, so the upstream pushes changes (SPEC §16). */
  mj_upstream_notify_enabled: { schema: z.boolean(), default: false },
  mj_prices: { schema: pricesSchema, default: DEFAULT_PRICES },
  /** Finished tasks older than this many days are archived and removed daily (SPEC §17); 0 = kept forever. */
  task_retention_days: { schema: retentionDays('task_retention_days'), default: 0 },
  /** Log rows older than this many days are archived and replaced by carry-forward rows (SPEC §17); 0 = kept forever. */
  log_retention_days: { schema: retentionDays('log_retention_days'), default: 0 },
} as const;

export type OptionKey = keyof typeof DEFINITIONS;
export type OptionValues = { [K in OptionKey]: z.infer<(typeof DEFINITIONS)[K]['schema']> };
export const OPTION_KEYS = Object.keys(DEFINITIONS) as OptionKey[];

export function isOptionKey(key: string): key is OptionKey {
  return Object.hasOwn(DEFINITIONS, key);
}

function parseValue<K extends OptionKey>(key: K, value: unknown): OptionValues[K] {
  const parsed = DEFINITIONS[key].schema.safeParse(value);
  if (!parsed.success) {
    throw new AppError(
      'BAD_REQUEST',
      `invalid value for option ${key}: ${parsed.error.issues[0]?.message ?? 'wrong type'}`,
    );
  }
  return parsed.data as OptionValues[K];
}

export interface OptionsWatchSettings {
  /** How often the rows are compared; default 500, so a change is in force everywhere well within the 2 s the spec allows, even on a busy machine (a check costs ~40 µs). */
  intervalMs?: number;
  /** Called after the values were reloaded because the rows changed. */
  onChange?: () => void;
  /** Called when a check fails (the values in memory stay as they were). */
  onError?: (err: unknown) => void;
}

/** The values the rows give: defaults for missing keys, and for bad values (hand-edited SQL). */
function valuesOf(rows: readonly OptionRow[]): OptionValues {
  const out: Record<string, unknown> = {};
  for (const key of OPTION_KEYS) out[key] = DEFINITIONS[key].default;
  for (const row of rows) {
    if (!isOptionKey(row.key)) continue;
    try {
      out[row.key] = parseValue(row.key, JSON.parse(row.value));
    } catch {
      // A hand-edited bad value falls back to the default rather than breaking every request.
    }
  }
  return out as OptionValues;
}

/**
 * Runtime options, read once into memory and written through the store's option rows. Reads are
 * on every request, so they never touch the database.
 */
export class OptionsStore {
  private values: OptionValues;
  private seenRows: string | null = null;

  private constructor(
    private readonly rows: OptionRowStore,
    initial: readonly OptionRow[],
  ) {
    this.values = valuesOf(initial);
  }

  /**
   * Insert the defaults that are missing (environment overrides apply here, at first start
   * only), then load. Raw override strings are JSON (`true`, `{"mj_imagine":0.2}`).
   */
  static async bootstrap(
    rows: OptionRowStore,
    overrides: Readonly<Record<string, string>> = {},
  ): Promise<OptionsStore> {
    const defaults: OptionRow[] = [];
    for (const key of OPTION_KEYS) {
      let value: unknown = DEFINITIONS[key].default;
      const raw = overrides[key];
      if (raw !== undefined) {
        let json: unknown;
        try {
          json = JSON.parse(raw);
        } catch {
          throw new AppError('BAD_REQUEST', `invalid value for option ${key}: not JSON`);
        }
        value = key === 'mj_prices' ? { ...DEFAULT_PRICES, ...parseValue('mj_prices', json) } : parseValue(key, json);
      }
      defaults.push({ key, value: JSON.stringify(value) });
    }
    await rows.insertMissing(defaults);
    return new OptionsStore(rows, await rows.all());
  }

  /** Re-read from the database (after direct SQL edits, or from another replica). */
  async reload(): Promise<void> {
    this.values = valuesOf(await this.rows.all());
  }

  /**
   * Reload if the rows differ from the last look (another process or replica wrote them); true
   * when they did. Cheap enough for every second: a handful of short rows, parsed only on change.
   */
  async refresh(): Promise<boolean> {
    const rows = await this.rows.all();
    const seen = JSON.stringify(rows);
    if (seen === this.seenRows) return false;
    const first = this.seenRows === null;
    this.seenRows = seen;
    this.values = valuesOf(rows);
    return !first;
  }

  /**
   * Keep the in-memory values in step with the database: a check every `intervalMs`, started by
   * the composition root. Returns the function that stops it. A check still running when the
   * next is due is not overlapped.
   */
  watch(settings: OptionsWatchSettings = {}): () => void {
    const { intervalMs = 500, onChange, onError } = settings;
    let running = true;
    const check = async (first: boolean) => {
      try {
        if ((await this.refresh()) && !first) onChange?.();
      } catch (err) {
        onError?.(err);
      }
    };
    let busy: Promise<void> | null = check(true).finally(() => {
      busy = null;
    });
    const timer = setInterval(() => {
      if (busy || !running) return;
      busy = check(false).finally(() => {
        busy = null;
      });
    }, intervalMs);
    timer.unref?.();
    return () => {
      running = false;
      clearInterval(timer);
    };
  }

  get<K extends OptionKey>(key: K): OptionValues[K] {
    return this.values[key];
  }

  all(): OptionValues {
    return { ...this.values };
  }

  /** Validate and store one option; unknown keys and wrong types are BAD_REQUEST. */
  async set(key: string, value: unknown): Promise<void> {
    if (!isOptionKey(key)) throw new AppError('BAD_REQUEST', `unknown option: ${key}`);
    const parsed = parseValue(key, value);
    const text = JSON.stringify(parsed);
    await this.rows.upsert({ key, value: text });
    this.values = { ...this.values, [key]: parsed };
    // The last look must include our own write: otherwise another process setting the value back
    // would leave the rows equal to the stale look, and this process would keep the old value.
    await this.refresh();
  }

  /** Price in quota units of one call to `model` (unknown models cost what imagine costs). */
  quotaFor(model: string): number {
    const prices = this.values.mj_prices;
    const usd = prices[model] ?? DEFAULT_PRICES[model] ?? prices.mj_imagine ?? 0.1;
    return Math.round(usd * QUOTA_PER_UNIT);
  }
}
