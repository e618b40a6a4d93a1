import { useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useEffect, useRef } from 'react';
import { type AnyTaskItem, useTRPC } from './trpc.ts';

type Page = { items: AnyTaskItem[]; total: number; page: number; page_size: number };

/**
 * Keeps the listings in the query cache current from `mj.onTaskUpdate`: a changed task is
 * replaced in place; a task no cached page holds (a new one), or a change that arrives while a
 * listing is loading, refetches the listing once, and so does `{ reload: true }` (a reconnect
 * whose missed changes the server would not replay).
 */
export function useLiveTasks(all: boolean): { connected: boolean } {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const refetch = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(
    () => () => {
      if (refetch.current) clearTimeout(refetch.current);
    },
    [],
  );
  const listKey = all ? trpc.mj.all.pathKey() : trpc.mj.self.pathKey();
  const sub = useSubscription(
    trpc.mj.onTaskUpdate.subscriptionOptions(all ? { all: true } : {}, {
      onData: (event) => {
        if ('reload' in event.data) {
          // The server would not replay what was missed (too much): show the current listing instead.
          void queryClient.invalidateQueries({ queryKey: listKey });
          return;
        }
        const item = event.data as AnyTaskItem;
        let found = false;
        queryClient.setQueriesData<Page>({ queryKey: listKey }, (old) => {
          if (!old?.items.some((t) => t.id === item.id)) return old;
          found = true;
          return { ...old, items: old.items.map((t) => (t.id === item.id ? { ...t, ...item } : t)) };
        });
        // A listing already on its way was read before this change and would undo it when it lands: read again after it.
        const stale = !found || queryClient.isFetching({ queryKey: listKey }) > 0;
        if (stale && !refetch.current) {
          refetch.current = setTimeout(() => {
            refetch.current = null;
            void queryClient.invalidateQueries({ queryKey: listKey });
          }, 200);
        }
        if (item.progress === '100%') void queryClient.invalidateQueries({ queryKey: trpc.user.self.pathKey() });
      },
    }),
  );
  return { connected: sub.status === 'pending' };
}
