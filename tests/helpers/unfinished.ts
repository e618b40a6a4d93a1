import type { PollRow, SyncStore } from '../../src/contract/tasks.ts';
import { unfinishedPages } from '../../src/domain/task-sync.ts';

/** Every unfinished task through the poller's own walk (channels, then keyset pages), by channel then id. */
export async function readUnfinished(sync: SyncStore, pageSize = 1000): Promise<PollRow[]> {
  const out: PollRow[] = [];
  for (const channelId of await sync.unfinishedChannels()) {
    for await (const page of unfinishedPages(sync, channelId, pageSize)) out.push(...page);
  }
  return out;
}
