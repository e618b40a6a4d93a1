import { createTRPCClient, httpBatchLink, type TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { GatewayRouter } from './router-type.ts';

/**
 * The typed tRPC client of the management API (`mj-gateway/client`), for programs outside this
 * repository: inputs and outputs are the server's own zod types (see router-type.ts).
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
    links: [httpBatchLink({ url, headers, ...(opts.fetch ? { fetch: opts.fetch } : {}) })],
  });
}
