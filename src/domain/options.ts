import { z } from 'zod';
import type { DB } from '../db/client.ts';
import { options } from '../db/schema/index.ts';
import { AppError } from './errors.ts';

/** USD per call for each model (SPEC §7.4); quota = price × QUOTA_PER_UNIT. */
export const DEFAULT_PRICES: Readonly<Record<string, number>> = Object.freeze({
  mj_imagine: 0.1, mj_edits: 0.1, mj_variation: 0.1, mj_reroll: 0.1, mj_blend: 0.1, mj_modal: 0.1,
  mj_zoom: 0.1, mj_shorten: 0.1, mj_high_variation: 0.1, mj_low_variation: 0.1, mj_pan: 0.1,
  mj_video: 0.8,
  mj_describe: 0.05, mj_upscale: 0.05, swap_face: 0.05, mj_upload: 0.05,
  mj_inpaint: 0, mj_custom_zoom: 0,
});

export const QUOTA_PER_UNIT = 500_000;

const pricesSchema = z.record(z.string().min(1), z.number().finite().nonnegative());

/** Every runtime option: its schema (validates admin updates) and its default. */
const DEFINITIONS = {
  mj_forward_url_enabled: { schema: z.boolean(), default: true },
  mj_action_check_success_enabled: { schema: z.boolean(), default: true },
  mj_notify_enabled: { schema: z.boolean(), default: false },
  mj_account_filter_enabled: { schema: z.boolean(), default: false },
  mj_mode_clear_enabled: { schema: z.boolean(), default: false },
  mj_webhooks_enabled: { schema: z.boolean(), default: true },
  mj_prices: { schema: pricesSchema, default: DEFAULT_PRICES },
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
    throw new AppError('BAD_REQUEST', `invalid value for option ${key}: ${parsed.error.issues[0]?.message ?? 'wrong type'}`);
  }
  return parsed.data as OptionValues[K];
}

/**
 * Runtime options, read once into memory and written through. Reads are on every request, so
 * they never touch the database.
 */
export class OptionsStore {
  private values: OptionValues;

  constructor(private readonly db: DB) {
    this.values = this.load();
  }

  /**
   * Insert the defaults that are missing (environment overrides apply here, at first start
   * only), then load. Raw override strings are JSON (`true`, `{"mj_imagine":0.2}`).
   */
  static bootstrap(db: DB, overrides: Readonly<Record<string, string>> = {}): OptionsStore {
    db.transaction((tx) => {
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
        tx.insert(options).values({ key, value: JSON.stringify(value) }).onConflictDoNothing().run();
      }
    });
    return new OptionsStore(db);
  }

  private load(): OptionValues {
    const rows = this.db.select().from(options).all();
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

  /** Re-read from the database (after direct SQL edits, or from another replica). */
  reload(): void {
    this.values = this.load();
  }

  get<K extends OptionKey>(key: K): OptionValues[K] {
    return this.values[key];
  }

  all(): OptionValues {
    return { ...this.values };
  }

  /** Validate and store one option; unknown keys and wrong types are BAD_REQUEST. */
  set(key: string, value: unknown): void {
    if (!isOptionKey(key)) throw new AppError('BAD_REQUEST', `unknown option: ${key}`);
    const parsed = parseValue(key, value);
    const text = JSON.stringify(parsed);
    this.db.insert(options).values({ key, value: text }).onConflictDoUpdate({ target: options.key, set: { value: text } }).run();
    this.values = { ...this.values, [key]: parsed };
  }

  /** Price in quota units of one call to `model` (unknown models cost what imagine costs). */
  quotaFor(model: string): number {
    const prices = this.values.mj_prices;
    const usd = prices[model] ?? DEFAULT_PRICES[model] ?? prices.mj_imagine ?? 0.1;
    return Math.round(usd * QUOTA_PER_UNIT);
  }
}
