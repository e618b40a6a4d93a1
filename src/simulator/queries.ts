import { phaseOf, toView } from './lifecycle.ts';
import { asBody, PARENT_BAD_STATUS, refuse, type SubmitContext, vo } from './submit-common.ts';
import type { JsonAnswer, TaskView } from './types.ts';

function view(ctx: SubmitContext, id: string): TaskView | null {
  const task = ctx.store.get(id);
  return task ? toView(task, ctx.now(), ctx.stepMs, ctx.base) : null;
}

/** GET /task/:id/fetch — unknown ids answer HTTP 404 (Java gives 200 empty, C# 204; 404 is clearer). */
export function fetchTask(ctx: SubmitContext, id: string): JsonAnswer {
  const v = view(ctx, id);
  return v ? { status: 200, body: v } : refuse(3, 'Task not found', 404);
}

/** POST /task/list-by-condition {ids}: JSON array in request order, unknown ids skipped. */
export function listByCondition(ctx: SubmitContext, rawBody: unknown): JsonAnswer {
  const ids = asBody(rawBody).ids;
  const out: TaskView[] = [];
  if (Array.isArray(ids)) {
    for (const id of ids) {
      if (typeof id !== 'string') continue;
      const v = view(ctx, id.trim());
      if (v) out.push(v);
    }
  }
  return { status: 200, body: out };
}

/** GET /task/list — the latest 100 tasks, newest first (as C# does). */
export function listLatest(ctx: SubmitContext): JsonAnswer {
  const now = ctx.now();
  return { status: 200, body: ctx.store.latest(100).map((t) => toView(t, now, ctx.stepMs, ctx.base)) };
}

/** GET /task/:id/image-seed — seed of a finished task; 404/3 unknown, 400/4 unfinished. */
export function imageSeed(ctx: SubmitContext, id: string): JsonAnswer {
  const task = ctx.store.get(id);
  if (!task) return refuse(3, 'Task not found', 404);
  if (phaseOf(task, ctx.now(), ctx.stepMs).status !== 'SUCCESS') return refuse(4, PARENT_BAD_STATUS, 400);
  return vo(1, 'Success', task.seed, {});
}
