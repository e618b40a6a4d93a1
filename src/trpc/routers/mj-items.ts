import { ROLE, type TaskRow } from '../../db/schema/index.ts';
import { adminTaskItem, taskItem, type ImageLinkPolicy } from '../../domain/tasks.ts';
import type { AppDeps } from '../../deps.ts';
import { adminTaskItemSchema, taskItemSchema } from '../../domain/task-views.ts';

/** The task item shapes of SPEC §6.1/§6.2 (one source: domain/task-views.ts, also behind /openapi.json). */
export { adminTaskItemSchema, taskItemSchema };

export function policyOf(deps: AppDeps): ImageLinkPolicy {
  return { forward: deps.options.get('mj_forward_url_enabled'), serverAddress: deps.serverAddress() };
}

/** A row as the caller's listing shows it: `mj.all`'s item for admins, `mj.self`'s for users. */
export function itemFor(deps: AppDeps, role: number, row: TaskRow) {
  const policy = policyOf(deps);
  return role >= ROLE.admin ? adminTaskItem(row, policy) : taskItem(row, policy);
}
