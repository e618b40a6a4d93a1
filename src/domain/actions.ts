/** Task actions and the model names prices are looked up by (SPEC §7.2 step 2). */
export type TaskAction =
  | 'IMAGINE'
  | 'UPSCALE'
  | 'VARIATION'
  | 'LOW_VARIATION'
  | 'HIGH_VARIATION'
  | 'REROLL'
  | 'PAN'
  | 'ZOOM'
  | 'CUSTOM_ZOOM'
  | 'INPAINT'
  | 'DESCRIBE'
  | 'BLEND'
  | 'SHORTEN'
  | 'MODAL'
  | 'VIDEO'
  | 'EDITS'
  | 'UPLOAD'
  | 'SWAP_FACE';

/** `mj_<action lower>`, except face swap, which is priced as `swap_face`. */
export function modelNameOf(action: string): string {
  if (action === 'SWAP_FACE') return 'swap_face';
  return `mj_${action.toLowerCase()}`;
}

/** Accepted but never charged (SPEC §7.2 step 7). */
export const FREE_ACTIONS: ReadonlySet<string> = new Set(['INPAINT', 'CUSTOM_ZOOM']);
