import { z } from 'zod';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export interface PageQuery {
  p?: number | undefined;
  page_size?: number | undefined;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  page_size: number;
}

/** Defaults and the 100 cap of SPEC §6.1, in one place for every list. */
export function pageOf(q: PageQuery): { page: number; pageSize: number; offset: number } {
  const page = q.p ?? 1;
  const pageSize = Math.min(q.page_size ?? DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
  return { page, pageSize, offset: (page - 1) * pageSize };
}

/** Query values arrive as strings (REST) or numbers (tRPC); an empty string counts as absent. */
const emptyToUndefined = (v: unknown) => (v === '' || v === null ? undefined : v);

/** A whole number ≥ min, given as a number or a numeric string, with a message naming `name`. */
export function intParam(name: string, min: number, what: string) {
  return z.preprocess(
    (v) => {
      const e = emptyToUndefined(v);
      if (typeof e === 'string' && /^\s*-?\d+\s*$/.test(e)) return Number(e);
      return e;
    },
    z.number({ message: `${name} must be ${what}` }).int({ message: `${name} must be ${what}` })
      .min(min, { message: `${name} must be ${what}` }).max(Number.MAX_SAFE_INTEGER, { message: `${name} is too large` })
      .optional(),
  );
}

export const pageQuerySchema = z.object({
  p: intParam('p', 1, 'a positive integer'),
  page_size: intParam('page_size', 1, 'a positive integer'),
});
