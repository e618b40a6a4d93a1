import type { ReactNode } from 'react';
import { imageSrc, QUADRANT_W, type TaskButton } from './format.ts';
import type { AnyTaskItem } from './trpc.ts';

/**
 * A grid result's four images above their own follow-ups (SPEC §18): quadrant 1 over U1 and V1,
 * and so on, so a person sees which picture an upscale or a variation starts from. Each quadrant
 * is the gateway's `?part=` rendition of the grid, not the whole grid scaled down.
 */

export interface GridColumns {
  /** Quadrant 1..4 with the buttons that act on it (U, then V). */
  columns: Array<{ part: 1 | 2 | 3 | 4; buttons: TaskButton[] }>;
  /** The buttons of no single quadrant (🔄 and the like). */
  rest: TaskButton[];
}

const PER_QUADRANT = /^MJ::JOB::(upsample|variation)::([1-4])::/;

/** Splits a grid's buttons by quadrant; null unless all four upscale buttons (U1–U4) are there. */
export function gridColumns(buttons: readonly TaskButton[]): GridColumns | null {
  const columns: GridColumns['columns'] = [1, 2, 3, 4].map((part) => ({ part: part as 1 | 2 | 3 | 4, buttons: [] }));
  const rest: TaskButton[] = [];
  let upscales = 0;
  for (const b of buttons) {
    const m = PER_QUADRANT.exec(b.customId);
    const column = m ? columns[Number(m[2]) - 1] : undefined;
    if (!m || !column) {
      rest.push(b);
      continue;
    }
    if (m[1] === 'upsample') upscales++;
    // U before V in each column, whatever order the upstream sent them in.
    if (m[1] === 'upsample') column.buttons.unshift(b);
    else column.buttons.push(b);
  }
  return upscales === 4 ? { columns, rest } : null;
}

export function Quadrants({
  item,
  grid,
  renderButton,
}: {
  item: Pick<AnyTaskItem, 'mj_id' | 'progress'>;
  grid: GridColumns;
  renderButton: (b: TaskButton) => ReactNode;
}) {
  return (
    <div className="quadrants">
      {grid.columns.map(({ part, buttons }) => (
        <figure key={part} className="quadrant">
          <img
            src={imageSrc(item, { part, w: QUADRANT_W })}
            alt={`Quadrant ${part} of the grid of task ${item.mj_id}`}
            width={QUADRANT_W}
            height={QUADRANT_W}
          />
          <figcaption className="quadrant-buttons">{buttons.map(renderButton)}</figcaption>
        </figure>
      ))}
    </div>
  );
}
