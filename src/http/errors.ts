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

/** The upstream's push callbacks (SPEC §16): answered `{ error }` like the image forwarder. */
export function isNotifyPath(path: string): boolean {
  return /^\/mj\/notify\//.test(path);
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

/** tRPC's own error codes (JSON-RPC numbers and keys) for the statuses the app answers itself. */
const TRPC_ERROR_OF_STATUS: Readonly<Record<number, readonly [number, string]>> = {
  400: [-32600, 'BAD_REQUEST'],
  401: [-32001, 'UNAUTHORIZED'],
  403: [-32003, 'FORBIDDEN'],
  404: [-32004, 'NOT_FOUND'],
  413: [-32413, 'PAYLOAD_TOO_LARGE'],
  429: [-32029, 'TOO_MANY_REQUESTS'],
  500: [-32603, 'INTERNAL_SERVER_ERROR'],
  503: [-32603, 'INTERNAL_SERVER_ERROR'],
};

/** The error shape a tRPC client reads, for answers given before tRPC runs (a 413, a bad Host). */
export function trpcError(status: number, message: string) {
  const [code, key] =
    TRPC_ERROR_OF_STATUS[status] ?? (status >= 500 ? [-32603, 'INTERNAL_SERVER_ERROR'] : [-32600, 'BAD_REQUEST']);
  return { error: { message, code, data: { code: key, httpStatus: status } } };
}

export function isTrpcPath(path: string): boolean {
  return /^\/trpc(?:\/|$)/.test(path);
}

/** The body an error gets on `path`, so that a parse error or a 404 is shaped like its neighbours. */
export function errorBodyFor(path: string, status: number, message: string): unknown {
  if (isImagePath(path) || isNotifyPath(path)) return { error: message };
  if (isTrpcPath(path)) return trpcError(status, message);
  if (isRelayPath(path)) return relayError(status >= 500 ? 5 : 4, message);
  return managementError(message);
}
