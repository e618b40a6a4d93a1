import { AUTH_MESSAGES, authenticateManagement, type ManagementCredentials } from '../auth/management.ts';
import { ROLE } from '../contract/constants.ts';
import type { ManagementStore } from '../contract/index.ts';
import { AppError } from '../domain/errors.ts';

/** How often open streams' credentials are checked again: a revoked stream ends within 5 s (SPEC §10). */
export const SESSION_CHECK_MS = 2_000;

interface Watcher {
  minRole: number;
  onRevoked: (err: AppError) => void;
}

interface Session {
  creds: ManagementCredentials;
  watchers: Set<Watcher>;
}

/**
 * Live streams are authorized when opened and then again every SESSION_CHECK_MS through the store
 * (so a token regenerated, a user banned or an admin demoted on another replica counts too): one
 * lookup per pair of credentials per interval, shared by every stream opened with them. A lookup
 * that fails for another reason (the database away) ends nothing.
 */
export class SessionWatch {
  private readonly sessions = new Map<string, Session>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private checking = false;

  constructor(
    private readonly store: Pick<ManagementStore, 'users'>,
    private readonly intervalMs = SESSION_CHECK_MS,
  ) {}

  /** Calls `onRevoked` once the credentials no longer authorize `minRole`; returns the unwatch. */
  watch(creds: ManagementCredentials, minRole: number, onRevoked: (err: AppError) => void): () => void {
    const key = `${creds.authorization ?? ''}\n${creds.newApiUser ?? ''}`;
    let session = this.sessions.get(key);
    if (!session) this.sessions.set(key, (session = { creds, watchers: new Set() }));
    const watcher: Watcher = { minRole, onRevoked };
    session.watchers.add(watcher);
    if (!this.timer) {
      this.timer = setInterval(() => void this.checkAll(), this.intervalMs);
      this.timer.unref?.();
    }
    const own = session;
    return () => {
      own.watchers.delete(watcher);
      if (own.watchers.size === 0 && this.sessions.get(key) === own) this.sessions.delete(key);
      if (this.sessions.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  /** Sessions watched now (for tests). */
  get size(): number {
    return this.sessions.size;
  }

  private async checkAll(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await Promise.all([...this.sessions.values()].map((s) => this.check(s)));
    } finally {
      this.checking = false;
    }
  }

  private async check(session: Session): Promise<void> {
    let role: number;
    try {
      role = (await authenticateManagement(this.store, session.creds, ROLE.common)).role;
    } catch (err) {
      if (!(err instanceof AppError) || (err.kind !== 'UNAUTHORIZED' && err.kind !== 'FORBIDDEN')) return;
      for (const w of [...session.watchers]) w.onRevoked(err);
      return;
    }
    for (const w of [...session.watchers]) {
      if (role < w.minRole) w.onRevoked(new AppError('FORBIDDEN', AUTH_MESSAGES.insufficient));
    }
  }
}

const watches = new WeakMap<object, SessionWatch>();

/** The watch of a server (one per store). */
export function sessionWatchOf(store: Pick<ManagementStore, 'users'>): SessionWatch {
  let w = watches.get(store);
  if (!w) watches.set(store, (w = new SessionWatch(store)));
  return w;
}
