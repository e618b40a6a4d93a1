import type { AnyProcedure, TRPCBuiltRouter } from '@trpc/server';
import type { AppRouter } from '../../../src/trpc/routers/index.ts';

/**
 * The router type clients see: AppRouter's procedures with the server context erased. tsc writes
 * the inferred types of the two constants below out in full, so the emitted declaration names only
 * `@trpc/server` and `zod`, never our server modules (bun:sqlite, drizzle, `.ts` specifiers).
 * Type-only: nothing here runs, and the runtime client never imports this file.
 */

type ServerRecord = AppRouter['_def']['record'];
type ServerRoot = AppRouter['_def']['_config']['$types'];

/** Three levels deep (admin.user.list): each mapped level is written out member by member. */
declare function expand<T>(t: T): {
  [A in keyof T]: T[A] extends AnyProcedure
    ? T[A]
    : {
        [B in keyof T[A]]: T[A][B] extends AnyProcedure ? T[A][B] : { [C in keyof T[A][B]]: T[A][B][C] };
      };
};
declare function clientRootOf<T extends { errorShape: unknown }>(
  t: T,
): {
  ctx: object;
  meta: object;
  errorShape: T['errorShape'];
  transformer: false;
};
declare const serverRecord: ServerRecord;
declare const serverRoot: ServerRoot;

const gatewayRecord = expand(serverRecord);
const gatewayRoot = clientRootOf(serverRoot);

export type GatewayRouter = TRPCBuiltRouter<typeof gatewayRoot, typeof gatewayRecord>;
