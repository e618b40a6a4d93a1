import type { TaskFeed } from './task-feed.ts';

/** A feed that drops everything: for callers (tools, some tests) that run without live updates. */
export const noTaskFeed: TaskFeed = {
  publish() {},
  publishWritten() {},
  async *subscribe() {},
  watch(_scope, _from, signal, _replay, sink) {
    if (signal.aborted) sink.end();
    else signal.addEventListener('abort', () => sink.end(), { once: true });
  },
};
