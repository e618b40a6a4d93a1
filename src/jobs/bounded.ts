/**
 * Runs `fn` over `items` with at most `limit` calls in flight; resolves when all are done. `fn`
 * is expected to handle its own errors (a rejection still lets the others finish, then rethrows).
 */
export async function mapBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { err: unknown } | null = null;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  if (failure) throw (failure as { err: unknown }).err;
}
