/**
 * What a task id in a deep link (`/tasks/<mj_id>`, SPEC §16) may be: an upstream id's characters,
 * at most 64 (as `mj_id` filters). Shared by the server's route and the dashboard's router.
 */
export const TASK_LINK_ID = /^[A-Za-z0-9_.-]{1,64}$/;
