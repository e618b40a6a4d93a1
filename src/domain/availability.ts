import { AppError, DATABASE_UNAVAILABLE } from './errors.ts';

/**
 * A store whose every method turns "the database cannot be reached" into one AppError (HTTP 503
 * `database unavailable` on every surface, the relay's `{ code: 5 }`), so no caller needs to know
 * the driver's errors. `isUnavailable` is the dialect's classifier; other errors pass unchanged.
 */
export function guardAvailability<T extends object>(store: T, isUnavailable: (err: unknown) => boolean): T {
  const wrap = (value: unknown, self: object): unknown => {
    if (typeof value === 'function') {
      return (...args: unknown[]) => {
        try {
          const out: unknown = (value as (...a: unknown[]) => unknown).apply(self, args);
          return out instanceof Promise
            ? out.catch((err: unknown) => {
                throw translate(err);
              })
            : out;
        } catch (err) {
          throw translate(err);
        }
      };
    }
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return guardObject(value as object);
    return value;
  };
  const translate = (err: unknown) =>
    isUnavailable(err) ? new AppError('DATABASE', DATABASE_UNAVAILABLE, 'database_unavailable') : err;
  const guardObject = (obj: object): object => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = wrap(v, obj);
    return out;
  };
  return guardObject(store) as T;
}
