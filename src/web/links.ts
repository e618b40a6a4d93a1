import { httpBatchLink, httpSubscriptionLink, splitLink, type TRPCLink } from '@trpc/client';
import { FetchEventSource } from '../../packages/client/src/fetch-event-source.ts';
import type { AppRouter } from '../trpc/routers/index.ts';

export interface GatewayCredentials {
  /** Base URL of the gateway ('' on the dashboard page itself). */
  url: string;
  token: string;
  userId: number | string;
}

/**
 * The links of a tRPC client of the gateway: queries and mutations batched over HTTP,
 * subscriptions over SSE, both authenticated with the management headers of SPEC §5.1 (the
 * subscription through FetchEventSource, so the token never travels in a URL).
 */
export function gatewayLinks(c: GatewayCredentials): TRPCLink<AppRouter>[] {
  const headers = { authorization: `Bearer ${c.token}`, 'new-api-user': String(c.userId) };
  const url = `${c.url}/trpc`;
  return [
    splitLink({
      condition: (op) => op.type === 'subscription',
      true: httpSubscriptionLink({ url, EventSource: FetchEventSource, eventSourceOptions: () => ({ headers }) }),
      false: httpBatchLink({ url, headers: () => headers, maxItems: 16 }),
    }),
  ];
}
