import type { ImageLinkPolicy } from '../contract/listing.ts';
import type { TaskRow } from '../contract/rows.ts';
import type { TaskFilter } from '../lib/paging.ts';
import { boundTaskItem } from './bounds.ts';
import { buttonsOf, propertiesOf } from './task-json.ts';
import { type AllTaskQuery, type SelfTaskQuery, toMillis } from './task-query.ts';
import type { TypedAdminTaskItem, TypedTaskItem } from './task-views.ts';

export type { ImageLinkPolicy };

/** A task as `GET /api/mj/self` shows it (SPEC §6.1), in the documented key order. */
export interface TaskItem {
  id: number;
  mj_id: string;
  action: string;
  prompt: string;
  prompt_en: string;
  status: string;
  progress: string;
  image_url: string;
  video_url: string;
  video_urls: string;
  submit_time: number;
  start_time: number;
  finish_time: number;
  fail_reason: string;
  quota: number;
  code: number;
  description: string;
  state: string;
  buttons: string;
  properties: string;
}

/** The admin view adds who owns the task and where it ran (SPEC §6.2). */
export interface AdminTaskItem extends TaskItem {
  user_id: number;
  channel_id: number;
}

export function forwardedImageUrl(row: Pick<TaskRow, 'imageUrl' | 'mjId'>, policy: ImageLinkPolicy): string {
  if (!row.imageUrl) return '';
  return policy.forward ? `${policy.serverAddress}/mj/image/${row.mjId}` : row.imageUrl;
}

export function taskItem(row: TaskRow, policy: ImageLinkPolicy): TaskItem {
  return boundTaskItem({
    id: row.id,
    mj_id: row.mjId,
    action: row.action,
    prompt: row.prompt,
    prompt_en: row.promptEn,
    status: row.status,
    progress: row.progress,
    image_url: forwardedImageUrl(row, policy),
    video_url: row.videoUrl,
    video_urls: row.videoUrls,
    submit_time: row.submitTime,
    start_time: row.startTime,
    finish_time: row.finishTime,
    fail_reason: row.failReason,
    quota: row.quota,
    code: row.code,
    description: row.description,
    state: row.state,
    buttons: row.buttons,
    properties: row.properties,
  });
}

export function adminTaskItem(row: TaskRow, policy: ImageLinkPolicy): AdminTaskItem {
  const { id, ...rest } = taskItem(row, policy);
  return { id, user_id: row.userId, channel_id: row.channelId, ...rest };
}

/**
 * A task as the typed outputs show it (tRPC, the client): the REST item, bounded the same way,
 * with `buttons` and `properties` parsed.
 */
export function typedTaskItem(row: TaskRow, policy: ImageLinkPolicy): TypedTaskItem {
  return typed(taskItem(row, policy));
}

export function typedAdminTaskItem(row: TaskRow, policy: ImageLinkPolicy): TypedAdminTaskItem {
  return typed(adminTaskItem(row, policy));
}

function typed<T extends TaskItem>(
  item: T,
): Omit<T, 'buttons' | 'properties'> & Pick<TypedTaskItem, 'buttons' | 'properties'> {
  return { ...item, buttons: buttonsOf(item.buttons), properties: propertiesOf(item.properties) };
}

export type { TaskFilter };

export function selfFilter(userId: number, q: SelfTaskQuery): TaskFilter {
  return {
    userId,
    mjId: q.mj_id,
    start: q.start_timestamp === undefined ? undefined : toMillis(q.start_timestamp),
    end: q.end_timestamp === undefined ? undefined : toMillis(q.end_timestamp),
    status: q.status === 'none' ? '' : q.status,
    action: q.action,
  };
}

export function allFilter(q: AllTaskQuery): TaskFilter {
  return { ...selfFilter(0, q), userId: undefined, channelId: q.channel_id };
}
