import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { describeProblem } from './errors.ts';
import { formatQuota, formatTime } from './format.ts';
import { type AnyTaskItem, useTRPC } from './trpc.ts';

const KIND_LABEL: Record<string, string> = { charge: 'Charge', move: 'Moved', refund: 'Refund', adjust: 'Adjustment' };

/** The task's money timeline (`mj.ledger`, SPEC §16), oldest first, under the heading "Billing". */
export function Billing({ item }: { item: Pick<AnyTaskItem, 'mj_id' | 'quota' | 'status' | 'progress'> }) {
  const trpc = useTRPC();
  const ledger = useQuery({ ...trpc.mj.ledger.queryOptions({ mj_id: item.mj_id }), enabled: item.mj_id !== '' });
  const { refetch } = ledger;
  // A change of the task (live row) may be a charge moving or a refund: read the timeline again.
  useEffect(() => {
    if (item.mj_id) void refetch();
  }, [item.mj_id, item.quota, item.status, item.progress, refetch]);
  const items = ledger.data?.items ?? [];
  return (
    <section aria-labelledby="billing-title" className="billing">
      <h3 id="billing-title">Billing</h3>
      {ledger.error && (
        <p className="error" role="alert">
          {describeProblem(ledger.error).text}
        </p>
      )}
      {!ledger.error && items.length === 0 && (
        <p className="muted">{ledger.isLoading ? 'Loading…' : 'Nothing billed for this task.'}</p>
      )}
      {items.length > 0 && (
        <table className="ledger">
          <thead>
            <tr>
              <th>Time</th>
              <th>Entry</th>
              <th className="num">Quota</th>
              <th>Channel</th>
              <th>Note</th>
            </tr>
          </thead>
          <tbody>
            {items.map((e) => (
              <tr key={`${e.time}:${e.kind}:${e.quota}:${e.channel_id}:${e.note}`} className={`ledger-${e.kind}`}>
                <td className="nowrap">{formatTime(e.time)}</td>
                <td>{KIND_LABEL[e.kind] ?? e.kind}</td>
                <td className="num">
                  {e.kind === 'refund' ? `−${formatQuota(e.quota)}` : e.kind === 'move' ? '—' : formatQuota(e.quota)}
                </td>
                <td>{e.channel_id || '—'}</td>
                <td className="ledger-note">{e.note}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Reconciliation for admins on an unfinished task (SPEC §16): `Resync`, and `Fail and refund` with a reason. */
export function AdminTaskActions({ item }: { item: Pick<AnyTaskItem, 'mj_id' | 'progress'> }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const reasonInput = useRef<HTMLInputElement>(null);
  // The reason is all the form asks for, and it opens on the admin's own click: put the cursor there.
  useEffect(() => {
    if (asking) reasonInput.current?.focus();
  }, [asking]);
  const [note, setNote] = useState<{ ok: boolean; text: string } | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.mj.pathKey() });
  };
  const resync = useMutation(
    trpc.admin.task.resync.mutationOptions({
      onSuccess: (t) => {
        setNote({ ok: true, text: `Resynced: ${t.status || 'PENDING'} ${t.progress}.` });
        refresh();
      },
      onError: (err) => setNote({ ok: false, text: describeProblem(err).text }),
    }),
  );
  const fail = useMutation(
    trpc.admin.task.fail.mutationOptions({
      onSuccess: () => {
        setAsking(false);
        setReason('');
        setNote({ ok: true, text: 'Task failed and refunded.' });
        refresh();
      },
      onError: (err) => setNote({ ok: false, text: describeProblem(err).text }),
    }),
  );
  const busy = resync.isPending || fail.isPending;
  // Finished (by this admin, the upstream or the poller): nothing to reconcile; what was done stays said.
  if (item.progress === '100%')
    return note ? (
      <p className={note.ok ? 'ok' : 'error'} role={note.ok ? 'status' : 'alert'}>
        {note.text}
      </p>
    ) : null;
  return (
    <section aria-label="Reconciliation" className="reconcile">
      <div className="button-row">
        <button
          type="button"
          disabled={busy}
          onClick={() => {
            setNote(null);
            resync.mutate({ mj_id: item.mj_id });
          }}
        >
          Resync
        </button>
        {!asking && (
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() => {
              setNote(null);
              setAsking(true);
            }}
          >
            Fail and refund
          </button>
        )}
      </div>
      {asking && (
        <form
          className="fail-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (reason.trim()) fail.mutate({ mj_id: item.mj_id, reason: reason.trim() });
          }}
        >
          <label className="field">
            <span>Reason</span>
            <input
              ref={reasonInput}
              required
              maxLength={1000}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              placeholder="Why this task is failed"
            />
          </label>
          <div className="button-row">
            <button type="submit" className="danger" disabled={busy || !reason.trim()}>
              Confirm fail and refund
            </button>
            <button type="button" className="ghost" onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {note && (
        <p className={note.ok ? 'ok' : 'error'} role={note.ok ? 'status' : 'alert'}>
          {note.text}
        </p>
      )}
    </section>
  );
}
