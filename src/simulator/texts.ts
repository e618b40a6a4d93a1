const SUBJECTS = [
  'a red fox',
  'a lighthouse',
  'a paper boat',
  'an old robot',
  'a glass teapot',
  'a mountain village',
  'a koi pond',
  'a neon street',
];
const STYLES = [
  'watercolor',
  'isometric illustration',
  'oil painting',
  'cinematic photo',
  'ukiyo-e print',
  'low-poly render',
  'pencil sketch',
  'studio photograph',
];
const MOODS = [
  'at dusk',
  'in soft morning light',
  'under heavy rain',
  'in winter',
  'at golden hour',
  'in fog',
  'at night',
  'in spring bloom',
];
const RATIOS = ['--ar 1:1', '--ar 4:3', '--ar 16:9', '--ar 2:3'];

function pick<T>(list: readonly T[], n: number): T {
  const item = list[Math.abs(n) % list.length];
  if (item === undefined) throw new Error('empty list');
  return item;
}

function numbersOf(seed: string): number[] {
  return Array.from(seed.replace(/[^0-9a-f]/gi, '')).map((c) => parseInt(c, 16));
}

/** The four `/describe` suggestions, numbered with keycap emoji like the bot writes them. */
export function describeSuggestions(seed: string): string[] {
  const n = numbersOf(seed);
  const marks = ['1️⃣', '2️⃣', '3️⃣', '4️⃣'];
  return marks.map((mark, i) => {
    const subject = pick(SUBJECTS, (n[i * 3] ?? i) + i);
    const style = pick(STYLES, (n[i * 3 + 1] ?? i) + i);
    const mood = pick(MOODS, n[i * 3 + 2] ?? i);
    return `${mark} ${subject}, ${style}, ${mood} ${pick(RATIOS, n[i] ?? 0)}`;
  });
}

/** Text the DESCRIBE result carries in prompt/promptEn/finalPrompt. */
export function describeText(seed: string): string {
  return describeSuggestions(seed).join('\n\n');
}

/** The five shortened prompts of a `/shorten` analysis. */
export function shortenOptions(prompt: string): string[] {
  const words = prompt
    .replace(/--\S+(\s+[^-\s]\S*)?/g, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0);
  const out: string[] = [];
  for (let i = 0; i < 5; i++) {
    const keep = Math.max(1, Math.ceil((words.length * (5 - i)) / 6));
    out.push(words.slice(0, keep).join(' ') || 'image');
  }
  return out;
}

/** Markdown the SHORTEN result carries in properties.finalPrompt. */
export function shortenText(prompt: string): string {
  const important = prompt
    .split(/\s+/)
    .filter((w) => w.length > 3 && !w.startsWith('--'))
    .slice(0, 5);
  const marks = ['1️⃣', '2️⃣', '3️⃣', '4️⃣', '5️⃣'];
  const options = shortenOptions(prompt).map((p, i) => `${marks[i] ?? ''} ${p}`);
  return `## Important tokens\n${important.join(', ')}\n\n## Shortened prompts\n${options.join('\n')}`;
}
