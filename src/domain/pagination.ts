import { z } from 'zod';

export { DEFAULT_PAGE_SIZE, listPage, MAX_PAGE_SIZE, type Page, type PageQuery, pageOf } from '../lib/paging.ts';

/**
 * A whole number ≥ min with a message naming `name`: what the typed inputs (tRPC, the client) take.
 * REST reads the same parameter from query text through {@link queryIntParam}.
 */
export function intParam(name: string, min: number, what: string) {
  const message = `${name} must be ${what}`;
  return z
    .number({ error: message })
    .int({ error: message })
    .min(min, { error: message })
    .max(Number.MAX_SAFE_INTEGER, { error: `${name} is too large` })
    .optional();
}

/** What a whole-number parameter may look like as text: digits, maybe signed, maybe blank. */
const INT_TEXT = /^\s*-?\d*\s*$/;

/**
 * The REST form of {@link intParam}: a number or numeric query text (an empty string counts as
 * absent) read as a number, then checked by the same schema. A union, not a preprocess, so the
 * OpenAPI document shows what a query may hold.
 */
export function queryIntParam(name: string, min: number, what: string) {
  const message = `${name} must be ${what}`;
  return z
    .union([z.number({ error: message }), z.string({ error: message }).regex(INT_TEXT, { error: message })], {
      error: message,
    })
    .transform((v) => (typeof v === 'number' ? v : v.trim() === '' ? undefined : Number(v)))
    .pipe(intParam(name, min, what))
    .optional();
}

/** `{ items, total, page, page_size }` of every list, around the schema of one item. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    total: z.number().int(),
    page: z.number().int(),
    page_size: z.number().int(),
  });
}

export const pageQuerySchema = z.object({
  p: intParam('p', 1, 'a positive integer'),
  page_size: intParam('page_size', 1, 'a positive integer'),
});
