import { useCallback, useEffect, useState } from 'react';
import { TASK_LINK_ID } from '../lib/task-link.ts';

/** The deep link of a task's detail (SPEC §16). */
export function taskLink(mjId: string): string {
  return `/tasks/${encodeURIComponent(mjId)}`;
}

/** The task id a path links to, or null for any other path. */
export function taskIdOfPath(path: string): string | null {
  const m = /^\/tasks\/([^/]+)\/?$/.exec(path);
  if (!m?.[1]) return null;
  let id: string;
  try {
    id = decodeURIComponent(m[1]);
  } catch {
    return null;
  }
  return TASK_LINK_ID.test(id) ? id : null;
}

/** Marks a history entry the dashboard pushed over its list, so closing the detail can go Back to it. */
interface PushedDetail {
  mjTaskDetail: string;
}

function pushedByUs(state: unknown): state is PushedDetail {
  return (
    typeof state === 'object' && state !== null && typeof (state as Partial<PushedDetail>).mjTaskDetail === 'string'
  );
}

export interface TaskRoute {
  /** The task whose detail the address names, or null on the list. */
  mjId: string | null;
  open(mjId: string): void;
  close(): void;
}

/**
 * The address bar as the open task detail: a row's link pushes `/tasks/<mj_id>` over the list
 * (Back closes it); a page loaded at that address (a new tab) opens the detail from the start.
 */
export function useTaskRoute(): TaskRoute {
  const [mjId, setMjId] = useState<string | null>(() => taskIdOfPath(location.pathname));
  useEffect(() => {
    const onPop = () => setMjId(taskIdOfPath(location.pathname));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const open = useCallback((id: string) => {
    if (taskIdOfPath(location.pathname) === id) return;
    const state: PushedDetail = { mjTaskDetail: id };
    history.pushState(state, '', taskLink(id));
    setMjId(id);
  }, []);
  const close = useCallback(() => {
    if (taskIdOfPath(location.pathname) === null) return;
    if (pushedByUs(history.state)) {
      // The list is the entry behind: going back keeps Back and Forward meaningful.
      history.back();
      return;
    }
    // Opened by a loaded deep link: nothing of ours is behind it, so the list replaces it.
    history.replaceState(null, '', '/');
    setMjId(null);
  }, []);
  return { mjId, open, close };
}

/** A plain primary click (no new tab or window asked for): the link is followed in place. */
export function isPlainClick(e: {
  button: number;
  metaKey: boolean;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  defaultPrevented: boolean;
}): boolean {
  return e.button === 0 && !e.metaKey && !e.ctrlKey && !e.shiftKey && !e.altKey && !e.defaultPrevented;
}
