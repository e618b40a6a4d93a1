import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type AnyTaskItem, useTRPC } from './trpc.ts';

export interface OwnerNames {
  user(id: number): string;
  channel(id: number): string;
}

/**
 * Names of the users and channels on one page of All tasks: channels from the list the Channel
 * filter loads anyway, users from `admin.user.names` for just the ids on the page (at most a page).
 */
export function useOwnerNames(items: readonly AnyTaskItem[], enabled: boolean): OwnerNames {
  const trpc = useTRPC();
  const channels = useQuery({ ...trpc.admin.channel.list.queryOptions({ page_size: 100 }), enabled });
  const ids = [...new Set(items.flatMap((t) => ('user_id' in t ? [t.user_id] : [])))].sort((a, b) => a - b);
  const users = useQuery({
    ...trpc.admin.user.names.queryOptions({ ids }, { placeholderData: keepPreviousData, staleTime: 60_000 }),
    enabled: enabled && ids.length > 0,
  });
  const channelName = new Map((channels.data?.items ?? []).map((c) => [c.id, c.name]));
  const userName = new Map((users.data ?? []).map((u) => [u.id, u.display_name || u.username]));
  return {
    user: (id) => userName.get(id) ?? '',
    channel: (id) => channelName.get(id) ?? '',
  };
}

/** All channels, for the Channel filter (the same query useOwnerNames reads, so loaded once). */
export function useChannels(enabled: boolean) {
  const trpc = useTRPC();
  return useQuery({ ...trpc.admin.channel.list.queryOptions({ page_size: 100 }), enabled });
}

/** A user or channel by name, its id beside it (the id alone until the name has loaded, or if it is gone). */
export function Named({ name, id }: { name: string; id: number }) {
  return name ? (
    <span className="named">
      <span className="named-name">{name}</span> <span className="muted">#{id}</span>
    </span>
  ) : (
    <span className="muted">#{id}</span>
  );
}
