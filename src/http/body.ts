/**
 * Request bodies read by the application, with the 10 MiB limit of SPEC §10 counted on the bytes
 * themselves: a chunked body carries no Content-Length to check up front.
 */

export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Thrown when a body passes the limit; the app's error hook answers it as the surface's JSON 413. */
export class BodyTooLargeError extends Error {
  readonly status = 413;
  constructor() {
    super('request body too large');
    this.name = 'BodyTooLargeError';
  }
}

/** The body stream failed (malformed chunked encoding, the client went away): the client's doing. */
export class BodyReadError extends Error {
  readonly status = 400;
  constructor() {
    super('request body could not be read');
    this.name = 'BodyReadError';
  }
}

/**
 * How much of a refused body is still read and thrown away before the 413 goes out (lingering
 * close, RFC 9112 §9.6). Closing a socket with unread bytes makes the kernel reset it, and the
 * reset destroys the 413 before a client that writes its whole body first gets to read it. Bounded
 * three ways: bytes, total time, and a pause of the client (one that waits for the answer).
 */
export const LINGER = { maxBytes: 64 * 1024 * 1024, maxMs: 3000, idleMs: 1000 } as const;

type Bounds = { readonly maxBytes: number; readonly maxMs: number; readonly idleMs: number };

/**
 * Reads what is left of a refused body and drops it, within `bounds`; never throws. When the body
 * ends inside the bounds, the connection then closes cleanly and the client reads the 413.
 */
export async function discardBody(
  source: Request | ReadableStreamDefaultReader<Uint8Array>,
  bounds: Bounds = LINGER,
): Promise<void> {
  let reader: ReadableStreamDefaultReader<Uint8Array>;
  if (source instanceof Request) {
    if (!source.body || source.bodyUsed) return;
    reader = source.body.getReader();
  } else {
    reader = source;
  }
  const started = performance.now();
  let drained = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    while (drained < bounds.maxBytes) {
      const left = bounds.maxMs - (performance.now() - started);
      if (left <= 0) break;
      const paused = new Promise<null>(
        (resolve) => (timer = setTimeout(() => resolve(null), Math.min(left, bounds.idleMs))),
      );
      const step = await Promise.race([reader.read(), paused]);
      clearTimeout(timer);
      if (step === null || step.done) break;
      drained += step.value.byteLength;
    }
  } catch {
    // The client went away: nothing left to protect.
  } finally {
    clearTimeout(timer);
  }
  await reader.cancel().catch(() => {});
}

/**
 * The whole body as bytes, or BodyTooLargeError as soon as it passes `limit` (the rest is read and
 * dropped within LINGER first, so the client sees the 413).
 */
export async function readBodyBytes(
  request: Request,
  limit: number = MAX_BODY_BYTES,
): Promise<Uint8Array<ArrayBuffer>> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) {
    await discardBody(request);
    throw new BodyTooLargeError();
  }
  // A declared length within the limit (and no chunked framing) bounds what the runtime reads:
  // take it natively in one go, before `request.body` makes a JS stream of it.
  if (declared !== null && !request.headers.has('transfer-encoding')) {
    try {
      return new Uint8Array(await request.arrayBuffer());
    } catch {
      throw new BodyReadError();
    }
  }
  if (!request.body) return new Uint8Array(0);
  const reader = (request.body as ReadableStream<Uint8Array<ArrayBuffer>>).getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let total = 0;
  for (;;) {
    let step: Awaited<ReturnType<typeof reader.read>>;
    try {
      step = await reader.read();
    } catch {
      throw new BodyReadError();
    }
    const { done, value } = step;
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await discardBody(reader);
      throw new BodyTooLargeError();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  return new Uint8Array(Bun.concatArrayBuffers(chunks));
}

const utf8 = new TextDecoder();

/** The body as UTF-8 text, within the limit. */
export async function readBodyText(request: Request, limit: number = MAX_BODY_BYTES): Promise<string> {
  return utf8.decode(await readBodyBytes(request, limit));
}
