/**
 * The task actions and the listing's status filter values (SPEC §6.1), for the domain's
 * parameter checks and the dashboard's filter menus alike.
 */

/** Every action the relay records. */
export const TASK_ACTIONS = [
  'IMAGINE',
  'UPSCALE',
  'VARIATION',
  'LOW_VARIATION',
  'HIGH_VARIATION',
  'REROLL',
  'PAN',
  'ZOOM',
  'CUSTOM_ZOOM',
  'INPAINT',
  'DESCRIBE',
  'BLEND',
  'SHORTEN',
  'MODAL',
  'VIDEO',
  'EDITS',
  'UPLOAD',
  'SWAP_FACE',
] as const;

/** The `status` filter's values; `none` is the empty status of a task not yet polled. */
export const TASK_STATUS_FILTERS = [
  'NOT_START',
  'SUBMITTED',
  'MODAL',
  'IN_PROGRESS',
  'FAILURE',
  'SUCCESS',
  'none',
] as const;
