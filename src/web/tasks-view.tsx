import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { type ComponentProps, type FormEvent, useState } from 'react';
import { TASK_ACTIONS, type TASK_STATUS_FILTERS } from '../lib/task-values.ts';
import { describeProblem } from './errors.ts';
import { LabeledInput } from './field.tsx';
import { formatQuota, imageSrc, THUMB_W } from './format.ts';
import { useLiveTasks } from './live.ts';
import { Named, useChannels, useOwnerNames } from './names.tsx';
import { ProgressBar, StatusBadge } from './progress.tsx';
import { isPlainClick, type TaskRoute, taskLink } from './route.ts';
import { TaskDetail } from './task-detail.tsx';
import { TimeCell } from './time-cell.tsx';
import { type AnyTaskItem, useTRPC } from './trpc.ts';

type StatusFilter = (typeof TASK_STATUS_FILTERS)[number];
type ActionFilter = (typeof TASK_ACTIONS)[number];

interface Filters {
  mj_id: string;
  from: string;
  to: string;
  channel: string;
  status: StatusFilter | '';
  action: ActionFilter | '';
}

const EMPTY: Filters = { mj_id: '', from: '', to: '', channel: '', status: '', action: '' };
/** How a status reads in the Status menu. */
const STATUS_LABEL: Record<StatusFilter, string> = {
  SUCCESS: 'Success',
  FAILURE: 'Failure',
  IN_PROGRESS: 'In progress',
  SUBMITTED: 'Submitted',
  NOT_START: 'Not started',
  MODAL: 'Waiting for input',
  none: 'Not polled yet',
};
const STATUS_OPTIONS = (Object.keys(STATUS_LABEL) as StatusFilter[]).map((v): [StatusFilter, string] => [
  v,
  STATUS_LABEL[v],
]);
const ACTION_OPTIONS = TASK_ACTIONS.map((v): [ActionFilter, string] => [v, v]);
/** The table's columns every view shows: header text and class. */
const COLUMNS: Array<[string, string | undefined]> = [
  ['Image', 'col-thumb'],
  ['Task', 'col-task'],
  ['Action', undefined],
  ['Prompt', 'col-prompt'],
  ['Status', 'col-status'],
  ['Progress', 'col-progress'],
  ['Submitted', 'col-time'],
  ['Finished', 'col-time'],
  ['Quota', 'col-quota'],
];
const PAGE_SIZES = [10, 20, 50, 100];
const FINAL = new Set(['SUCCESS', 'FAILURE']);

function toMs(local: string): number | undefined {
  if (!local) return undefined;
  const ms = new Date(local).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** A filter menu whose first entry means "any" (the empty value). */
function Choice<V extends string>(props: {
  id: string;
  label: string;
  any: string;
  value: V | '';
  options: Array<[V, string]>;
  onValue: (value: V | '') => void;
}) {
  return (
    <div className="field">
      <label htmlFor={props.id}>{props.label}</label>
      <select id={props.id} value={props.value} onChange={(e) => props.onValue(e.target.value as V | '')}>
        <option value="">{props.any}</option>
        {props.options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A text filter: its label and its input in one field box. */
function FilterInput({ className, ...field }: { className: string } & ComponentProps<typeof LabeledInput>) {
  return (
    <div className={`field ${className}`}>
      <LabeledInput {...field} />
    </div>
  );
}

/** "My tasks" (mj.self) or, for admins, "All tasks" (mj.all): filters, table, pages, live rows. */
export function TasksView({ all, route }: { all: boolean; route: TaskRoute }) {
  const trpc = useTRPC();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [openId, setOpenId] = useState<number | null>(null);
  const live = useLiveTasks(all);

  const base = {
    p: page,
    page_size: pageSize,
    ...(filters.mj_id.trim() ? { mj_id: filters.mj_id.trim() } : {}),
    ...(toMs(filters.from) !== undefined ? { start_timestamp: toMs(filters.from) } : {}),
    ...(toMs(filters.to) !== undefined ? { end_timestamp: toMs(filters.to) } : {}),
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.action ? { action: filters.action } : {}),
  };
  const selfQuery = useQuery({
    ...trpc.mj.self.queryOptions(base, { placeholderData: keepPreviousData }),
    enabled: !all,
  });
  const allQuery = useQuery({
    ...trpc.mj.all.queryOptions(
      { ...base, ...(filters.channel ? { channel_id: Number(filters.channel) } : {}) },
      { placeholderData: keepPreviousData },
    ),
    enabled: all,
  });
  const channels = useChannels(all);
  const q = all ? allQuery : selfQuery;
  const data = q.data as { items: AnyTaskItem[]; total: number } | undefined;
  const items = data?.items ?? [];
  const total = data?.total ?? 0;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  // The address names the open task: the listed row when it is on this page (kept live), else one lookup.
  const listed = route.mjId === null ? null : (items.find((t) => t.mj_id === route.mjId) ?? null);
  const lookup = useQuery({
    ...trpc.mj.get.queryOptions(
      { mj_id: route.mjId ?? '' },
      {
        refetchInterval: (query) => (query.state.data && !FINAL.has(query.state.data.status) ? 3000 : false),
      },
    ),
    enabled: route.mjId !== null && listed === null && !q.isPending,
  });
  const routed = route.mjId === null ? null : (listed ?? lookup.data ?? null);
  const open = openId !== null ? (items.find((t) => t.id === openId) ?? null) : routed;
  const names = useOwnerNames(items, all);
  const filtered =
    filters.mj_id.trim() !== '' ||
    filters.from !== '' ||
    filters.to !== '' ||
    filters.channel !== '' ||
    filters.status !== '' ||
    filters.action !== '';

  /** The value and the setter of one filter's field in the draft. */
  function bind<K extends keyof Filters>(key: K) {
    return { value: draft[key], onValue: (value: Filters[K]) => setDraft({ ...draft, [key]: value }) };
  }

  function apply(e: FormEvent) {
    e.preventDefault();
    setFilters(draft);
    setPage(1);
  }

  return (
    <section className="tasks">
      <form className={`filters${all ? ' filters-all' : ''}`} onSubmit={apply} aria-label="Filters">
        <FilterInput
          id={`${all}-mj-id`}
          label="Task ID"
          className="field-id"
          inputMode="numeric"
          placeholder="1712345678901234"
          {...bind('mj_id')}
        />
        <FilterInput id={`${all}-from`} label="From" className="field-date" type="datetime-local" {...bind('from')} />
        <FilterInput id={`${all}-to`} label="To" className="field-date" type="datetime-local" {...bind('to')} />
        <Choice id={`${all}-status`} label="Status" any="All statuses" options={STATUS_OPTIONS} {...bind('status')} />
        <Choice id={`${all}-action`} label="Action" any="All actions" options={ACTION_OPTIONS} {...bind('action')} />
        {all && (
          <Choice
            id="channel-filter"
            label="Channel"
            any="All channels"
            options={(channels.data?.items ?? []).map((c) => [String(c.id), `${c.name} (#${c.id})`])}
            {...bind('channel')}
          />
        )}
        <div className="filter-actions">
          <button type="submit" className="primary">
            Apply
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
              setPage(1);
            }}
          >
            Reset
          </button>
        </div>
      </form>

      {q.error && (
        <p className="error" role="alert">
          {describeProblem(q.error).text}
        </p>
      )}

      <div className="table-wrap">
        <table className={`task-table${all ? ' task-table-all' : ''}`}>
          <caption className="visually-hidden">{all ? 'All tasks' : 'My tasks'}, newest first</caption>
          <thead>
            <tr>
              {COLUMNS.map(([label, className]) => (
                <th key={label} scope="col" className={className}>
                  {label}
                </th>
              ))}
              {all && <th scope="col">User</th>}
              {all && <th scope="col">Channel</th>}
            </tr>
          </thead>
          <tbody>
            {items.map((t) => (
              <tr key={t.id}>
                <td className="cell-thumb" data-label="Image">
                  {t.image_url && t.mj_id ? (
                    <img
                      className="thumb"
                      src={imageSrc(t, { w: THUMB_W })}
                      alt={`Thumbnail of task ${t.mj_id}`}
                      loading="lazy"
                      width={56}
                      height={56}
                    />
                  ) : (
                    <div className="thumb thumb-empty" aria-hidden="true" />
                  )}
                </td>
                <td className="cell-task" data-label="Task">
                  {t.mj_id ? (
                    <a
                      className="link"
                      href={taskLink(t.mj_id)}
                      onClick={(e) => {
                        if (!isPlainClick(e)) return;
                        e.preventDefault();
                        route.open(t.mj_id);
                      }}
                    >
                      {t.mj_id}
                    </a>
                  ) : (
                    <button type="button" className="link" onClick={() => setOpenId(t.id)}>{`#${t.id}`}</button>
                  )}
                </td>
                <td data-label="Action">{t.action}</td>
                <td className="col-prompt" data-label="Prompt">
                  <span className="clamp" title={t.prompt}>
                    {t.prompt || '—'}
                  </span>
                </td>
                <td data-label="Status">
                  <StatusBadge status={t.status} />
                </td>
                <td data-label="Progress">
                  <ProgressBar progress={t.progress} status={t.status} label={`Progress of task ${t.mj_id || t.id}`} />
                </td>
                <td data-label="Submitted">
                  <TimeCell ms={t.submit_time} />
                </td>
                <td data-label="Finished">
                  <TimeCell ms={t.finish_time} />
                </td>
                <td data-label="Quota">{formatQuota(t.quota)}</td>
                {'user_id' in t && (
                  <td data-label="User">
                    <Named name={names.user(t.user_id)} id={t.user_id} />
                  </td>
                )}
                {'user_id' in t && (
                  <td data-label="Channel">
                    <Named name={names.channel(t.channel_id)} id={t.channel_id} />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
        {q.isSuccess && items.length === 0 && (
          <p className="empty">
            {total > 0
              ? 'No tasks on this page.'
              : filtered
                ? 'No tasks match these filters.'
                : 'No tasks yet. Describe a picture above and press Imagine.'}
          </p>
        )}
        {q.isPending && <p className="empty">Loading tasks…</p>}
      </div>

      <nav className="pager" aria-label="Pages">
        <button type="button" onClick={() => setPage((p) => Math.max(1, p - 1))} disabled={page <= 1}>
          Previous
        </button>
        <span aria-live="polite">
          Page {page} of {pages} · {total} {total === 1 ? 'task' : 'tasks'}
        </span>
        <button type="button" onClick={() => setPage((p) => p + 1)} disabled={page >= pages}>
          Next
        </button>
        <label className="page-size">
          <span>Per page</span>
          <select
            value={pageSize}
            onChange={(e) => {
              setPageSize(Number(e.target.value));
              setPage(1);
            }}
          >
            {PAGE_SIZES.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
        <span className={`live ${live.connected ? 'live-on' : ''}`}>{live.connected ? 'Live' : 'Connecting…'}</span>
      </nav>

      {route.mjId !== null && openId === null && lookup.error && (
        <p className="error" role="alert">
          {describeProblem(lookup.error).text}{' '}
          <button type="button" className="link" onClick={route.close}>
            Back to the list
          </button>
        </p>
      )}
      {open && (
        <TaskDetail
          key={open.id}
          item={open}
          names={names}
          onClose={() => (openId !== null ? setOpenId(null) : route.close())}
        />
      )}
    </section>
  );
}
