/** Task actions and the model names prices are looked up by (SPEC §7.2 step 2). */
import { TASK_ACTIONS } from '../lib/task-values.ts';

export { TASK_ACTIONS };
export type TaskAction = (typeof TASK_ACTIONS)[number];

/** `mj_<action lower>`, except face swap, which is priced as `swap_face`. */
export function modelNameOf(action: string): string {
  if (action === 'SWAP_FACE') return 'swap_face';
  return `mj_${action.toLowerCase()}`;
}

/** Accepted but never charged (SPEC §7.2 step 7). */
export const FREE_ACTIONS: ReadonlySet<string> = new Set(['INPAINT', 'CUSTOM_ZOOM']);
