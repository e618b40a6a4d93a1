import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { buttonName } from './button-names.ts';
import { describeProblem, type Problem } from './errors.ts';
import { buttonsOf, DETAIL_W, formatQuota, formatTime, imageSrc, type TaskButton } from './format.ts';
import { Named, type OwnerNames } from './names.tsx';
import { ProgressBar, StatusBadge } from './progress.tsx';
import { KeyOffer } from './prompt-box.tsx';
import { gridColumns, Quadrants } from './quadrants.tsx';
import { AdminTaskActions, Billing } from './task-billing.tsx';
import { type AnyTaskItem, useTRPC } from './trpc.ts';

/** A task's detail (modal dialog): the image, every field, and its upstream buttons as follow-ups. */
export function TaskDetail({ item, names, onClose }: { item: AnyTaskItem; names: OwnerNames; onClose: () => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const dialog = useRef<HTMLDialogElement>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [sent, setSent] = useState<string | null>(null);
  const me = useQuery(trpc.user.self.queryOptions());
  const admin = (me.data?.role ?? 0) >= 10;
  const action = useMutation(
    trpc.mj.submit.mutationOptions({
      onSuccess: (task) => {
        setProblem(null);
        setSent(`${task.action} submitted as task ${task.mj_id}.`);
        void queryClient.invalidateQueries({ queryKey: trpc.mj.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.user.self.pathKey() });
      },
      onError: (err) => setProblem(describeProblem(err)),
    }),
  );

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);

  const buttons = buttonsOf(item);
  // A finished grid shows its four images, each above its own U and V buttons.
  const grid = item.status === 'SUCCESS' && item.image_url && item.mj_id ? gridColumns(buttons) : null;
  const followUp = (b: TaskButton) => (
    <button
      key={b.customId}
      type="button"
      title={buttonName(b) ?? b.hint}
      aria-label={buttonName(b)}
      disabled={action.isPending || item.status !== 'SUCCESS'}
      onClick={() => action.mutate({ action: 'ACTION', task_id: item.mj_id, custom_id: b.customId })}
    >
      {b.label}
    </button>
  );
  const failed = item.status === 'FAILURE' || item.fail_reason !== '';
  const title = item.mj_id ? `Task ${item.mj_id}` : `Task #${item.id}`;
  return (
    // biome-ignore lint/a11y/useKeyWithClickEvents: a click on the backdrop closes, as Escape (the dialog's own key) does
    <dialog
      ref={dialog}
      className="detail"
      aria-labelledby="detail-title"
      onClose={onClose}
      onClick={(e) => {
        if (e.target === dialog.current) dialog.current?.close();
      }}
    >
      <div className="detail-body">
        <header className="detail-head">
          <h2 id="detail-title">{title}</h2>
          <button type="button" className="ghost" onClick={() => dialog.current?.close()}>
            Close
          </button>
        </header>
        <div className="detail-grid">
          <div className="detail-image">
            {item.image_url && item.mj_id ? (
              <img src={imageSrc(item, { w: DETAIL_W })} alt={`Result of task ${item.mj_id}`} />
            ) : (
              <div className="placeholder">{failed ? 'No image' : 'Waiting for the image…'}</div>
            )}
          </div>
          <dl className="fields">
            <dt>Status</dt>
            <dd>
              <StatusBadge status={item.status} />
            </dd>
            <dt>Progress</dt>
            <dd>
              <ProgressBar progress={item.progress} status={item.status} label={`Progress of ${title}`} />
            </dd>
            <dt>Action</dt>
            <dd>{item.action}</dd>
            <dt>Prompt</dt>
            <dd className="prompt-full">{item.prompt || '—'}</dd>
            {item.prompt_en && item.prompt_en !== item.prompt && (
              <>
                <dt>Prompt (English)</dt>
                <dd className="prompt-full">{item.prompt_en}</dd>
              </>
            )}
            {failed && (
              <>
                <dt>Fail reason</dt>
                <dd className="fail-reason">{item.fail_reason || '—'}</dd>
              </>
            )}
            {item.description && (
              <>
                <dt>Description</dt>
                <dd>{item.description}</dd>
              </>
            )}
            <dt>Submitted</dt>
            <dd>{formatTime(item.submit_time)}</dd>
            <dt>Started</dt>
            <dd>{formatTime(item.start_time)}</dd>
            <dt>Finished</dt>
            <dd>{formatTime(item.finish_time)}</dd>
            <dt>Quota</dt>
            <dd>{formatQuota(item.quota)}</dd>
            {'user_id' in item && (
              <>
                <dt>User</dt>
                <dd>
                  <Named name={names.user(item.user_id)} id={item.user_id} />
                </dd>
                <dt>Channel</dt>
                <dd>
                  <Named name={names.channel(item.channel_id)} id={item.channel_id} />
                </dd>
              </>
            )}
          </dl>
        </div>
        {buttons.length > 0 && (
          <section aria-label="Follow-ups" className="follow-ups">
            <h3>Follow-ups</h3>
            {grid && <Quadrants item={item} grid={grid} renderButton={followUp} />}
            {(grid ? grid.rest : buttons).length > 0 && (
              <div className="button-row">{(grid ? grid.rest : buttons).map(followUp)}</div>
            )}
          </section>
        )}
        {admin && item.mj_id !== '' && <AdminTaskActions item={item} />}
        {item.mj_id !== '' && <Billing item={item} />}
        {sent && !problem && (
          <p className="ok" role="status">
            {sent}
          </p>
        )}
        {problem && (
          <p className="error" role="alert">
            {problem.text}
          </p>
        )}
        <KeyOffer offer={!!problem?.noKey} onCreated={() => setProblem(null)} />
      </div>
    </dialog>
  );
}
