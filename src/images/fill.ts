import type { ImageWriter } from './store.ts';

/**
 * The upstream body as the client will read it, copied into `writer` on the way. The client's
 * reads drive the upstream reads (nothing is read ahead, so memory stays flat whatever the size
 * and however slow the client), and the copy never holds the client up: a write that fails only
 * stops the storing. The image is committed when the upstream ends cleanly; an upstream error or
 * a client that goes away aborts it, so a partial image is never stored. Without a writer the body
 * only passes (counted when `onBytes` is given).
 */
export function storeWhileStreaming(
  body: ReadableStream<Uint8Array>,
  writer: ImageWriter | null,
  onBytes?: (n: number) => void,
): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let storing = writer !== null;
  const stop = () => {
    if (storing) writer?.abort();
    storing = false;
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch {
          stop();
          // The client's connection is cut as the upstream's was; an Error here would only make
          // Bun print a trace for what is the upstream's fault.
          controller.error(undefined);
          return;
        }
        if (chunk.done) {
          controller.close();
          if (storing) {
            storing = false;
            void writer?.commit();
          }
          return;
        }
        controller.enqueue(chunk.value);
        onBytes?.(chunk.value.byteLength);
        if (!storing) return;
        try {
          const wait = writer?.write(chunk.value);
          if (wait) await wait;
        } catch {
          stop();
        }
      },
      cancel(reason) {
        stop();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * The body as the client reads it, each chunk's size reported to `onBytes` on the way (for a body
 * of unknown length): storeWhileStreaming with nothing to store, one stream layer, where a
 * TransformStream would add a queue on each side and a pipe between.
 */
export function countingStream(
  body: ReadableStream<Uint8Array>,
  onBytes: (n: number) => void,
): ReadableStream<Uint8Array> {
  return storeWhileStreaming(body, null, onBytes);
}

/** Reads `body` to its end into `writer` and commits it; any failure aborts (nothing is stored). */
export async function drainInto(body: ReadableStream<Uint8Array>, writer: ImageWriter): Promise<boolean> {
  try {
    for await (const chunk of body) {
      const wait = writer.write(chunk);
      if (wait) await wait;
    }
  } catch {
    writer.abort();
    return false;
  }
  return writer.commit();
}
