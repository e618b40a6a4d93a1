import { z } from 'zod';

export { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, pageOf, type Page, type PageQuery } from '../lib/paging.ts';

/** What a whole-number parameter may look like as text: digits, maybe signed, maybe blank. */
const INT_TEXT = /^\s*-?\d*\s*$/;

/**
 * A whole number ≥ min, given as a number or a numeric string (REST sends strings, tRPC numbers),
 * with a message naming `name`; an empty string counts as absent. A union, not a preprocess, so
 * the input type stays `number | string | undefined` for typed clients and the JSON Schema.
 */
export function intParam(name: string, min: number, what: string) {
  const message = `${name} must be ${what}`;
  return z.union([z.number({ error: message }), z.string({ error: message }).regex(INT_TEXT, { error: message })], { error: message })
    .transform((v) => (typeof v === 'number' ? v : v.trim() === '' ? undefined : Number(v)))
    .pipe(
      z.number({ error: message }).int({ error: message }).min(min, { error: message })
        .max(Number.MAX_SAFE_INTEGER, { error: `${name} is too large` }).optional(),
    )
    .optional();
}

/** `{ items, total, page, page_size }` of every list, around the schema of one item. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), total: z.number().int(), page: z.number().int(), page_size: z.number().int() });
}

export const pageQuerySchema = z.object({
  p: intParam('p', 1, 'a positive integer'),
  page_size: intParam('page_size', 1, 'a positive integer'),
});
