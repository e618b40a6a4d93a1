/**
 * Names for upstream buttons whose label is only an emoji (🔄, ⬅️ …): a screen reader would
 * otherwise say "counterclockwise arrows button". The name comes from the customId, which says
 * what the button does (the same customIds the relay's ACTION maps to tasks).
 */

const NAMED: { re: RegExp; name: string }[] = [
  { re: /^MJ::JOB::reroll::/, name: 'Reroll' },
  { re: /^MJ::Picread::Retry/, name: 'Retry' },
  { re: /^MJ::JOB::pan_left::/, name: 'Pan left' },
  { re: /^MJ::JOB::pan_right::/, name: 'Pan right' },
  { re: /^MJ::JOB::pan_up::/, name: 'Pan up' },
  { re: /^MJ::JOB::pan_down::/, name: 'Pan down' },
  { re: /^MJ::BOOKMARK::/, name: 'Bookmark' },
  { re: /^MJ::CustomZoom::/, name: 'Custom zoom' },
  { re: /^MJ::Inpaint::/, name: 'Vary (Region)' },
];

/** A label with no letter or digit in it (an emoji, an arrow) names nothing. */
const WORDLESS = /^[^\p{L}\p{N}]*$/u;

/** Turns `MJ::JOB::high_variation::1::…` into "High variation" for customIds the table above lacks. */
function fromCustomId(customId: string): string {
  const parts = customId.split('::');
  const word = (parts[1] === 'JOB' ? parts[2] : parts[1]) ?? '';
  const text = word
    .replace(/_/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return text ? text[0]!.toUpperCase() + text.slice(1) : 'Follow-up';
}

/** The accessible name of a follow-up button, or undefined when its label already says it. */
export function buttonName(b: { customId: string; label?: string | null; emoji?: string | null }): string | undefined {
  const label = b.label ?? '';
  if (label && !WORDLESS.test(label)) return undefined;
  return NAMED.find((n) => n.re.test(b.customId))?.name ?? fromCustomId(b.customId);
}
