import { percentOf, statusLabel } from './format.ts';

export function ProgressBar({ progress, label }: { progress: string; label: string }) {
  const pct = percentOf(progress);
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100}
      aria-valuenow={pct} aria-valuetext={`${pct}%`}>
      <div className="progress-fill" style={{ width: `${pct}%` }} />
      <span className="progress-text">{pct}%</span>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const s = statusLabel(status);
  return <span className={`badge badge-${s.toLowerCase()}`}>{s.replace('_', ' ')}</span>;
}
