import { expect, test } from 'bun:test';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { GatewayRouter } from '../../src/client/index.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';

/** Exact type equality; checked by `bun run typecheck` (a mismatch makes the assignments below fail). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends (<T>() => T extends Y ? 1 : 2) ? true : false;

test('the client router type has exactly the server procedures, inputs and outputs', () => {
  const inputs: Equal<inferRouterInputs<GatewayRouter>, inferRouterInputs<AppRouter>> = true;
  const outputs: Equal<inferRouterOutputs<GatewayRouter>, inferRouterOutputs<AppRouter>> = true;
  const listInput: Equal<Exclude<inferRouterInputs<AppRouter>['mj']['self'], void>, {
    p?: number | string | undefined; page_size?: number | string | undefined; mj_id?: string | number | undefined;
    start_timestamp?: number | string | undefined; end_timestamp?: number | string | undefined;
  }> = true;
  expect([inputs, outputs, listInput]).toEqual([true, true, true]);
});
