/**
 * U+0000 in what a client sends. PostgreSQL's text type cannot hold it (the statement fails, which
 * was a 500 on that database only), so every surface refuses it up front with a 400 naming the
 * field, and both databases see the same input.
 */

const NUL = '\u0000';
/** How deep a body is walked; JSON this deep is refused by the schemas anyway. */
const MAX_DEPTH = 64;

/** The message of the 400: `<field> may not contain U+0000`. */
export function nulMessage(field: string): string {
  return `${field === '' ? 'request' : field} may not contain U+0000`;
}

/** The path (`prompt`, `ids[2]`, `a.b`) of the first string, or key, in `value` holding U+0000; null when none. */
export function nulPathIn(value: unknown, path = '', depth = 0): string | null {
  if (typeof value === 'string') return value.includes(NUL) ? path : null;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulPathIn(value[i], `${path}[${i}]`, depth + 1);
      if (found !== null) return found;
    }
    return null;
  }
  for (const [key, v] of Object.entries(value)) {
    const at = path === '' ? key : `${path}.${key}`;
    if (key.includes(NUL)) return at;
    const found = nulPathIn(v, at, depth + 1);
    if (found !== null) return found;
  }
  return null;
}

/**
 * The field of a JSON text that holds U+0000 (only ever written `\u0000` in valid JSON), or null.
 * The substring test keeps ordinary bodies to one scan; text that does not parse is left to the
 * surface's own JSON error.
 */
export function nulFieldInJson(text: string): string | null {
  if (!text.includes('\\u0000')) return null;
  try {
    return nulPathIn(JSON.parse(text) as unknown);
  } catch {
    return null;
  }
}

/**
 * The query parameter or path of a URL that holds U+0000 (`%00`), or null. A tRPC `input`
 * parameter is JSON: its field is named inside it (`input.mj_id`).
 */
export function nulFieldInUrl(url: URL): string | null {
  const raw = url.pathname + url.search;
  const escaped = raw.includes('%5Cu0000') || raw.includes('%5cu0000') || raw.includes('\\u0000');
  if (!/%00/i.test(raw) && !escaped) return null;
  if (safeDecode(url.pathname).includes(NUL)) return 'path';
  for (const [key, value] of url.searchParams) {
    if (key.includes(NUL) || value.includes(NUL)) return key.replaceAll(NUL, '');
    if (key === 'input') {
      const inner = nulFieldInJson(value);
      if (inner !== null) return inner === '' ? 'input' : `input.${inner}`;
    }
  }
  return null;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
