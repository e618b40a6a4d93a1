/** A time in a table cell: the day above the clock, so the column stays narrow (two lines fit a row with a thumbnail). */

const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const clock = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

export function TimeCell({ ms }: { ms: number }) {
  if (ms <= 0) return <>—</>;
  const at = new Date(ms);
  return (
    <time className="time-cell" dateTime={at.toISOString()}>
      <span>{day.format(at)}</span> <span>{clock.format(at)}</span>
    </time>
  );
}
