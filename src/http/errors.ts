/** Body shapes of errors, by surface: relay (midjourney-proxy), image forwarder, management. */

export function isRelayPath(path: string): boolean {
  return /^\/(?:[^/]+\/)?mj(?:\/|$)/.test(path) && !isImagePath(path);
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
