import { requestId as newRequestId } from '../lib/ids.ts';

const ids = new WeakMap<Request, string>();

/** One id per request, made on first use; it is echoed as `x-request-id` and put in logs. */
export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (!id) ids.set(request, (id = newRequestId()));
  return id;
}
