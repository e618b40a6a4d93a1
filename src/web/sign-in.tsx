import { createTRPCClient } from '@trpc/client';
import { type FormEvent, useState } from 'react';
import type { AppRouter } from '../trpc/routers/index.ts';
import { describeProblem } from './errors.ts';
import { LabeledInput } from './field.tsx';
import { gatewayLinks } from './links.ts';
import type { Session } from './session.ts';

/** Sign-in with an access token and user id, checked against `user.self` before it is kept. */
export function SignIn({ notice, onSignedIn }: { notice: string | null; onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [userId, setUserId] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const id = Number(userId.trim());
    if (!token.trim()) return setError('Enter your access token.');
    if (!Number.isInteger(id) || id < 1) return setError('The user ID is a whole number, such as 1.');
    setBusy(true);
    setError(null);
    try {
      const client = createTRPCClient<AppRouter>({ links: gatewayLinks({ url: '', token: token.trim(), userId: id }) });
      await client.user.self.query();
      onSignedIn({ token: token.trim(), userId: id });
    } catch (err) {
      const p = describeProblem(err);
      setError(p.signOut && err instanceof Error ? `Sign-in failed: ${err.message}` : p.text);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="sign-in">
      <form className="card" onSubmit={submit} aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">
          <span className="logo" aria-hidden="true">
            ◐
          </span>{' '}
          mj-gateway
        </h1>
        <p className="muted">Sign in to see your images and make new ones.</p>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <LabeledInput
          id="access-token"
          label="Access token"
          type="password"
          autoComplete="current-password"
          value={token}
          onValue={setToken}
          required
        />
        <LabeledInput
          id="user-id"
          label="User ID"
          inputMode="numeric"
          autoComplete="username"
          value={userId}
          onValue={setUserId}
          required
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
