/** Body shapes of errors, by surface: relay (midjourney-proxy), image forwarder, management. */

export function isRelayPath(path: string): boolean {
  // `/:mode/mj/...` is the relay, but `/api/mj/...` and `/trpc/...` belong to the management API.
  return /^\/(?:[^/]+\/)?mj(?:\/|$)/.test(path) && !/^\/(?:api|trpc)(?:\/|$)/.test(path) && !isImagePath(path);
}

/**
 * The path of a request URL, also when the URL does not parse (a request without a usable Host
 * header makes `request.url` invalid): errors must still be shaped like their surface.
 */
export function pathOfUrl(url: string): string {
  if (URL.canParse(url)) return new URL(url).pathname;
  // Bun then hands over the bare request target ("/mj/task/1/fetch").
  const m = /^(?:[a-z][a-z0-9+.-]*:\/\/[^/?#]*)?(\/[^?#]*)/i.exec(url);
  return m?.[1] ?? '/';
}

export function isImagePath(path: string): boolean {
  return /^\/(?:[^/]+\/)?mj\/image\//.test(path);
}

/** The midjourney-proxy envelope: every relay answer is JSON with a `properties` object. */
export function relayError(code: number, description: string) {
  return { code, description, result: null, properties: {} };
}

/** OpenAI-style body of relay authentication failures (SPEC §5.2). */
export function relayAuthError(message: string, code: string) {
  return { error: { message, type: 'mj_gateway_error', code } };
}

export function managementError(message: string) {
  return { success: false as const, message };
}

/** The body an error gets on `path`, so that a parse error or a 404 is shaped like its neighbours. */
export function errorBodyFor(path: string, status: number, message: string): unknown {
  if (isImagePath(path)) return { error: message };
  if (isRelayPath(path)) return relayError(status >= 500 ? 5 : 4, message);
  return managementError(message);
}
