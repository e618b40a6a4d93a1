/** Sign-in kept for the browser tab only (sessionStorage): closing the tab signs out. */
export interface Session {
  token: string;
  userId: number;
}

const KEY = 'mj-gateway.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as Partial<Session>;
    return typeof s.token === 'string' && typeof s.userId === 'number' ? { token: s.token, userId: s.userId } : null;
  } catch {
    return null;
  }
}

export function saveSession(s: Session): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}
