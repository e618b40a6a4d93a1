import type { TaskRow } from '../../contract/rows.ts';
import type { ChargeInput, SettleInput } from '../../contract/tasks.ts';

/**
 * The task row an accepted submit has just written, built from the values it wrote: the insert of
 * `chargeAndRecord` (the columns it leaves out keep their defaults), the channel failover left it
 * on, then the settle of `settleAccepted`. Only for a settle that won its compare-and-set: then no
 * other writer has changed the row since it was inserted (the poller and pushes find a task by its
 * upstream id, which the settle has just written). `mj.submit` answers with it instead of reading
 * the row back.
 */
export function acceptedTaskRow(taskId: number, charge: ChargeInput, channelId: number, settle: SettleInput): TaskRow {
  const t = charge.task;
  const p = settle.params;
  return {
    id: taskId,
    userId: charge.userId,
    tokenId: charge.tokenId,
    channelId,
    code: p.code,
    action: t.action ?? '',
    mjId: p.mjId,
    prompt: t.prompt ?? '',
    promptEn: t.promptEn ?? '',
    description: p.description,
    state: t.state ?? '',
    submitTime: t.submitTime ?? 0,
    startTime: settle.done ? p.now : (t.startTime ?? 0),
    finishTime: settle.done ? p.now : (t.finishTime ?? 0),
    imageUrl: settle.withImage ? p.imageUrl : (t.imageUrl ?? ''),
    videoUrl: t.videoUrl ?? '',
    videoUrls: t.videoUrls ?? '',
    status: p.status,
    // A settle that is not done leaves progress as inserted ('0%'); a done one writes '100%'.
    progress: settle.done ? p.progress : (t.progress ?? '0%'),
    failReason: t.failReason ?? '',
    quota: charge.quota,
    buttons: t.buttons ?? '',
    properties: p.properties,
    updatedTime: p.now,
  };
}
