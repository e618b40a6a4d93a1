import { StrictMode, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Dashboard } from './dashboard.tsx';
import { clearSession, loadSession, type Session, saveSession } from './session.ts';
import { SignIn } from './sign-in.tsx';
import './styles.css';

function Root() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);
  if (!session) {
    return (
      <SignIn
        notice={notice}
        onSignedIn={(s) => {
          saveSession(s);
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Dashboard
      key={`${session.userId}:${session.token}`}
      session={session}
      onSignOut={(text) => {
        clearSession();
        setNotice(text);
        setSession(null);
      }}
    />
  );
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
