import type { inferRouterOutputs } from '@trpc/server';
import { createTRPCContext } from '@trpc/tanstack-react-query';
import type { AppRouter } from '../trpc/routers/index.ts';

/** The typed tRPC hooks of the dashboard (TanStack Query integration). */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

type Out = inferRouterOutputs<AppRouter>;
export type TaskItem = Out['mj']['self']['items'][number];
export type AdminTaskItem = Out['mj']['all']['items'][number];
export type AnyTaskItem = TaskItem | AdminTaskItem;
export type Me = Out['user']['self'];
