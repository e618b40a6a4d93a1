import { HEAVY_USER, mjIdOf, ROOT_TOKEN, SPACING_MS, T0 } from '../seed.ts';

/** The listing requests of SPEC §12, as paths + headers for a database of `total` seeded tasks. */

export interface Shape {
  id: string;
  label: string;
  path: string;
  headers: Record<string, string>;
  /** A time window: the harness checks the `total` the product answers against SQL. */
  range?: { start: number; end: number; userId?: number };
}

export const ADMIN_HEADERS = { authorization: `Bearer ${ROOT_TOKEN}`, 'new-api-user': '1' };
export const USER_HEADERS = { authorization: `Bearer ${HEAVY_USER.token}`, 'new-api-user': String(HEAVY_USER.id) };
const DAY = 86_400_000;

/** An even row index (owned by the heavy user) in the middle of the table. */
function middle(total: number): number {
  return Math.floor(total / 4) * 2;
}

/** One day of submit times from the middle of the table: the same rows at every size (same density). */
export function middleDay(total: number): { start: number; end: number } {
  const start = T0 + middle(total) * SPACING_MS;
  return { start, end: start + DAY - 1 };
}

/** From 10% to 90% of the table's time span. */
export function wideRange(total: number): { start: number; end: number } {
  const span = total * SPACING_MS;
  return { start: T0 + Math.floor(span * 0.1), end: T0 + Math.floor(span * 0.9) };
}

/** Page 1 of each documented listing and each filter: compared between the two sizes. */
export function filterShapes(total: number): Shape[] {
  const mj = mjIdOf(middle(total));
  const day = middleDay(total);
  const range = `start_timestamp=${day.start}&end_timestamp=${day.end}`;
  return [
    { id: 'self', label: '/api/mj/self page 1', path: '/api/mj/self', headers: USER_HEADERS },
    { id: 'self.mj_id', label: '/api/mj/self mj_id', path: `/api/mj/self?mj_id=${mj}`, headers: USER_HEADERS },
    {
      id: 'self.range',
      label: '/api/mj/self 1-day range',
      path: `/api/mj/self?${range}`,
      headers: USER_HEADERS,
      range: { ...day, userId: HEAVY_USER.id },
    },
    { id: 'all', label: '/api/mj/ page 1', path: '/api/mj/', headers: ADMIN_HEADERS },
    { id: 'all.mj_id', label: '/api/mj/ mj_id', path: `/api/mj/?mj_id=${mj}`, headers: ADMIN_HEADERS },
    { id: 'all.range', label: '/api/mj/ 1-day range', path: `/api/mj/?${range}`, headers: ADMIN_HEADERS, range: day },
    { id: 'all.channel_id', label: '/api/mj/ channel_id', path: '/api/mj/?channel_id=2', headers: ADMIN_HEADERS },
    // Seeded rows: 1 in 50 FAILURE, 1 in 100 IN_PROGRESS, the rest SUCCESS; every one IMAGINE. The
    // heavy user owns the even rows, all of them SUCCESS.
    {
      id: 'self.status',
      label: '/api/mj/self status=SUCCESS',
      path: '/api/mj/self?status=SUCCESS',
      headers: USER_HEADERS,
    },
    {
      id: 'self.action',
      label: '/api/mj/self action=IMAGINE',
      path: '/api/mj/self?action=IMAGINE',
      headers: USER_HEADERS,
    },
    { id: 'all.status', label: '/api/mj/ status=FAILURE', path: '/api/mj/?status=FAILURE', headers: ADMIN_HEADERS },
    {
      id: 'all.status_action',
      label: '/api/mj/ status=IN_PROGRESS&action=IMAGINE',
      path: '/api/mj/?status=IN_PROGRESS&action=IMAGINE',
      headers: ADMIN_HEADERS,
    },
    { id: 'all.action', label: '/api/mj/ action=IMAGINE', path: '/api/mj/?action=IMAGINE', headers: ADMIN_HEADERS },
  ];
}

export function deepShapes(): { deep: Shape; first: Shape }[] {
  return [
    {
      deep: { id: 'deep.all', label: '/api/mj/ p=2000', path: '/api/mj/?p=2000', headers: ADMIN_HEADERS },
      first: { id: 'all', label: '/api/mj/ page 1', path: '/api/mj/', headers: ADMIN_HEADERS },
    },
    {
      deep: { id: 'deep.self', label: '/api/mj/self p=500', path: '/api/mj/self?p=500', headers: USER_HEADERS },
      first: { id: 'self', label: '/api/mj/self page 1', path: '/api/mj/self', headers: USER_HEADERS },
    },
  ];
}

export function rangeShapes(total: number): Shape[] {
  const day = middleDay(total);
  const wide = wideRange(total);
  return [
    {
      id: 'range.middle',
      label: '/api/mj/ time range alone, 1 day mid-table',
      path: `/api/mj/?start_timestamp=${day.start}&end_timestamp=${day.end}`,
      headers: ADMIN_HEADERS,
      range: day,
    },
    {
      id: 'range.wide',
      label: '/api/mj/ time range alone, 80% of table',
      path: `/api/mj/?start_timestamp=${wide.start}&end_timestamp=${wide.end}`,
      headers: ADMIN_HEADERS,
      range: wide,
    },
    {
      id: 'range.seconds',
      label: '/api/mj/ time range alone, in seconds',
      path: `/api/mj/?start_timestamp=${Math.ceil(wide.start / 1000)}&end_timestamp=${Math.floor(wide.end / 1000)}`,
      headers: ADMIN_HEADERS,
      range: { start: Math.ceil(wide.start / 1000) * 1000, end: Math.floor(wide.end / 1000) * 1000 },
    },
  ];
}
