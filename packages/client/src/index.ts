import { createTRPCClient, httpBatchLink, httpSubscriptionLink, splitLink, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { FetchEventSource } from './fetch-event-source.ts';
import type { GatewayRouter } from './router-type.ts';

/**
 * The typed tRPC client of the management API (npm package `mj-gateway-client`), for programs
 * outside this repository: inputs and outputs are the server's own zod types (see router-type.ts),
 * task items with `buttons` and `properties` parsed, list inputs as numbers. Queries and
 * mutations go batched over HTTP (at most 16 calls a batch, the server's limit); subscriptions
 * (`mj.onTaskUpdate`) over server-sent events with the same headers, through a fetch-based
 * EventSource, so the token never travels in a URL.
 */

export type { GatewayRouter };
export type GatewayInputs = inferRouterInputs<GatewayRouter>;
export type GatewayOutputs = inferRouterOutputs<GatewayRouter>;
export type GatewayClient = TRPCClient<GatewayRouter>;

export interface GatewayClientOptions {
  /** The gateway's base URL (e.g. `http://localhost:3000`); the client talks to `<url>/trpc`. */
  url: string;
  /** The user's access token, sent as `Authorization: Bearer <token>`. */
  token: string;
  /** The user's id, sent as `New-Api-User`. */
  userId: number | string;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
}

export function createGatewayClient(opts: GatewayClientOptions): GatewayClient {
  const headers = { Authorization: `Bearer ${opts.token}`, 'New-Api-User': String(opts.userId) };
  const url = `${opts.url.replace(/\/+$/, '')}/trpc`;
  return createTRPCClient<GatewayRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({ url, EventSource: FetchEventSource, eventSourceOptions: () => ({ headers }) }),
        false: httpBatchLink({ url, headers, maxItems: 16, ...(opts.fetch ? { fetch: opts.fetch } : {}) }),
      }),
    ],
  });
}
