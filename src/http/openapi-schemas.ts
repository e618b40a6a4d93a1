import { z } from 'zod';

/** Envelopes of the REST aliases (SPEC §6), as zod schemas for the OpenAPI document and its tests. */

/** `{ success: true, message: "", data }` around a procedure's output. */
export function restEnvelopeSchema<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), message: z.string(), data });
}

/** Every management failure: `{ success: false, message }`, the message naming what is wrong. */
export const managementErrorSchema = z.object({ success: z.literal(false), message: z.string() });
