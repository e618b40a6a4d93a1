import type { TaskButton } from './task-views.ts';

/**
 * The stored `buttons` / `properties` JSON text (SPEC §4: already cut to its bound on the way in
 * and again in listing items) read into what the typed outputs carry. Never throws: text that is
 * empty, not JSON or of another shape reads as empty, because rows written with SQL can hold
 * anything and one bad row must not fail a whole page.
 */

/** The value of a JSON text; undefined when it is empty or not JSON. */
export function parseJsonText(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** The upstream buttons; an entry that is not an object with a string `customId` is left out. */
export function buttonsOf(text: string): TaskButton[] {
  const raw = parseJsonText(text);
  if (!Array.isArray(raw)) return [];
  const out: TaskButton[] = [];
  for (const b of raw) {
    if (typeof b !== 'object' || b === null) continue;
    const { customId, emoji, label, type, style } = b as Record<string, unknown>;
    if (typeof customId !== 'string') continue;
    out.push({ customId, emoji: str(emoji), label: str(label), type: num(type), style: num(style) });
  }
  return out;
}

/** The upstream properties object; `{}` when there is none. */
export function propertiesOf(text: string): Record<string, unknown> {
  const raw = parseJsonText(text);
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
}
