import { percentOf, statusLabel } from './format.ts';

export function ProgressBar({ progress, label, status = '' }: { progress: string; label: string; status?: string }) {
  const pct = percentOf(progress);
  return (
    <div
      className="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={pct}
      aria-valuetext={`${pct}%`}
    >
      <div className="progress-track">
        <div
          className={`progress-fill${status === 'FAILURE' ? ' progress-failed' : status === 'SUCCESS' ? ' progress-done' : ''}`}
          style={{ width: `${pct}%` }}
        />
      </div>
      <span className="progress-text" aria-hidden="true">
        {pct}%
      </span>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const s = statusLabel(status);
  return <span className={`badge badge-${s.toLowerCase()}`}>{s.replace('_', ' ')}</span>;
}
