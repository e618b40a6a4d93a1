import { expect, test } from 'bun:test';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { GatewayRouter } from '../../packages/client/src/index.ts';
import type { TaskAction } from '../../src/domain/actions.ts';
import type { TASK_STATUS_FILTERS } from '../../src/domain/task-query.ts';
import type { AppRouter } from '../../src/trpc/routers/index.ts';

/** Exact type equality; checked by `bun run typecheck` (a mismatch makes the assignments below fail). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;

test('the client router type has exactly the server procedures, inputs and outputs', () => {
  const inputs: Equal<inferRouterInputs<GatewayRouter>, inferRouterInputs<AppRouter>> = true;
  const outputs: Equal<inferRouterOutputs<GatewayRouter>, inferRouterOutputs<AppRouter>> = true;
  // List inputs are numbers for typed callers; REST reads the same parameters from query text.
  const listInput: Equal<
    Exclude<inferRouterInputs<AppRouter>['mj']['self'], void>,
    {
      p?: number | undefined;
      page_size?: number | undefined;
      mj_id?: string | number | undefined;
      start_timestamp?: number | undefined;
      end_timestamp?: number | undefined;
      status?: (typeof TASK_STATUS_FILTERS)[number] | '' | undefined;
      action?: TaskAction | '' | undefined;
    }
  > = true;
  type Item = inferRouterOutputs<GatewayRouter>['mj']['self']['items'][number];
  const parsed: Equal<
    Pick<Item, 'buttons' | 'properties'>,
    {
      buttons: { customId: string; emoji: string; label: string; type: number; style: number }[];
      properties: Record<string, unknown>;
    }
  > = true;
  expect([inputs, outputs, listInput, parsed]).toEqual([true, true, true, true]);
});
