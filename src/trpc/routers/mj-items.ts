import { ROLE } from '../../contract/constants.ts';
import type { TaskRow } from '../../contract/rows.ts';
import type { AppDeps } from '../../deps.ts';
import {
  typedAdminTaskItemSchema,
  typedAdminTaskPageSchema,
  typedTaskItemSchema,
  typedTaskPageSchema,
} from '../../domain/task-views.ts';
import { type ImageLinkPolicy, typedAdminTaskItem, typedTaskItem } from '../../domain/tasks.ts';

/**
 * The task item shapes of the tRPC outputs (one source: domain/task-views.ts): the REST items of
 * SPEC §6.1/§6.2 with `buttons` and `properties` parsed.
 */
export { typedAdminTaskItemSchema, typedAdminTaskPageSchema, typedTaskItemSchema, typedTaskPageSchema };

export function policyOf(deps: AppDeps): ImageLinkPolicy {
  return { forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() };
}

/** A row as the caller's listing shows it: `mj.all`'s item for admins, `mj.self`'s for users. */
export function itemFor(deps: AppDeps, role: number, row: TaskRow) {
  const policy = policyOf(deps);
  return role >= ROLE.admin ? typedAdminTaskItem(row, policy) : typedTaskItem(row, policy);
}
