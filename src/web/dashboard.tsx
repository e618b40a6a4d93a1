import { MutationCache, QueryCache, QueryClient, QueryClientProvider, useQuery } from '@tanstack/react-query';
import { createTRPCClient } from '@trpc/client';
import { useState } from 'react';
import type { AppRouter } from '../trpc/routers/index.ts';
import { describeProblem, retryOnce } from './errors.ts';
import { formatQuota } from './format.ts';
import { gatewayLinks } from './links.ts';
import { PromptBox } from './prompt-box.tsx';
import { useTaskRoute } from './route.ts';
import type { Session } from './session.ts';
import { TasksView } from './tasks-view.tsx';
import { TRPCProvider, useTRPC } from './trpc.ts';

/** The views as tabs: "All tasks" only for admins. */
const VIEWS: Array<['mine' | 'all', string]> = [
  ['mine', 'My tasks'],
  ['all', 'All tasks'],
];
const ROLE_NAME: Record<number, string> = { 1: 'User', 10: 'Admin', 100: 'Root' };

/** The signed-in page: a tRPC client with the session's headers, and one QueryClient per session. */
export function Dashboard({ session, onSignOut }: { session: Session; onSignOut: (notice: string | null) => void }) {
  const [queryClient] = useState(() => {
    const onError = (err: unknown) => {
      const p = describeProblem(err);
      if (p.signOut) onSignOut(p.text);
    };
    return new QueryClient({
      queryCache: new QueryCache({ onError }),
      mutationCache: new MutationCache({ onError }),
      defaultOptions: { queries: { retry: retryOnce, refetchOnWindowFocus: false, staleTime: 5_000 } },
    });
  });
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({ links: gatewayLinks({ url: '', token: session.token, userId: session.userId }) }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <Shell onSignOut={() => onSignOut(null)} />
      </TRPCProvider>
    </QueryClientProvider>
  );
}

function Shell({ onSignOut }: { onSignOut: () => void }) {
  const trpc = useTRPC();
  const me = useQuery(trpc.user.self.queryOptions());
  const [view, setView] = useState<'mine' | 'all'>('mine');
  const route = useTaskRoute();
  const admin = (me.data?.role ?? 0) >= 10;
  const current = admin ? view : 'mine';
  return (
    <div className="shell">
      <header className="top">
        <div className="brand">
          <span className="logo" aria-hidden="true">
            ◐
          </span>{' '}
          mj-gateway
        </div>
        {me.data && (
          <div className="who">
            <WhoName
              name={me.data.display_name || me.data.username}
              role={ROLE_NAME[me.data.role] ?? `Role ${me.data.role}`}
            />
            <span className="who-quota" title={`${me.data.quota} quota units`}>
              {formatQuota(me.data.quota)} left
            </span>
          </div>
        )}
        <button type="button" className="ghost" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main className="content">
        {me.error && (
          <p className="error" role="alert">
            {describeProblem(me.error).text}
          </p>
        )}
        <PromptBox />
        <div className="tabs" role="tablist" aria-label="Views">
          {VIEWS.filter(([view]) => admin || view === 'mine').map(([view, label]) => (
            <button
              key={view}
              type="button"
              role="tab"
              id={`tab-${view}`}
              aria-controls="panel"
              aria-selected={current === view}
              onClick={() => setView(view)}
            >
              {label}
            </button>
          ))}
        </div>
        <div id="panel" role="tabpanel" aria-labelledby={`tab-${current}`}>
          <TasksView key={current} all={current === 'all'} route={route} />
        </div>
      </main>
    </div>
  );
}

/** The signed-in name and role; root's name is "Root", so the role is not said twice ("Root Root"). */
function WhoName({ name, role }: { name: string; role: string }) {
  if (name.trim().toLowerCase() === role.toLowerCase()) {
    return (
      <span className="who-name" title={`Role: ${role}`}>
        {name}
      </span>
    );
  }
  return (
    <>
      <span className="who-name">{name}</span>
      <span className="badge badge-role">{role}</span>
    </>
  );
}
