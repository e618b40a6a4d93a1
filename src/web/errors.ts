import { TRPCClientError } from '@trpc/client';

/** What the page says about a failed call. */
export interface Problem {
  text: string;
  /** The session is no longer valid (or the user was banned): back to sign-in. */
  signOut?: boolean;
  /** The caller has no usable API key: offer to create one. */
  noKey?: boolean;
}

const KNOWN: Record<string, string> = {
  quota_not_enough: 'Not enough quota for this job. Ask an administrator to top up your balance.',
  no_api_key: 'Jobs are billed to one of your API keys, and you have no usable key yet.',
  token_disabled: 'That API key is disabled.',
  token_expired: 'That API key has expired.',
  token_exhausted: "That API key's quota is used up.",
  task_not_found: 'That task was not found among your tasks.',
  task_status_not_success: 'That task has not finished yet; its buttons work once it succeeds.',
  channel_disabled: "The channel that ran this task is disabled, so follow-ups can't be sent.",
  channel_not_found: 'The channel that ran this task no longer exists.',
  'no available channel': 'No upstream channel is available right now. Try again later.',
  upstream_timeout: 'The image service did not answer in time. Your quota was refunded.',
  do_request_failed: 'The image service could not be reached. Your quota was refunded.',
  unmarshal_response_body_failed: 'The image service answered nonsense. Your quota was refunded.',
  'User has been banned': 'This account has been disabled. Contact an administrator.',
};

/** The form's own words for the API's field names, so a refusal names what the user can see. */
const FIELD_LABELS: Record<string, string> = {
  start_timestamp: 'From',
  end_timestamp: 'To',
  mj_id: 'Task ID',
  channel_id: 'Channel',
  page_size: 'Per page',
  prompt: 'Prompt',
};
const FIELD_NAME = new RegExp(`\\b(${Object.keys(FIELD_LABELS).join('|')})\\b`, 'g');

export function inFieldLabels(message: string): string {
  return message.replace(FIELD_NAME, (name) => FIELD_LABELS[name] ?? name);
}

function httpStatusOf(err: unknown): number | undefined {
  return err instanceof TRPCClientError ? (err.data as { httpStatus?: number } | undefined)?.httpStatus : undefined;
}

/**
 * TanStack Query's retry rule for the dashboard: a refusal (4xx) says the same the second time,
 * so it is sent once; other failures (network, 5xx) get one more try.
 */
export function retryOnce(failureCount: number, err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status !== undefined && status >= 400 && status < 500) return false;
  return failureCount < 1;
}

/** Turn any error of the API into a sentence for people. */
export function describeProblem(err: unknown): Problem {
  if (!(err instanceof TRPCClientError)) {
    return { text: err instanceof Error ? `Something went wrong: ${err.message}` : 'Something went wrong.' };
  }
  const code = (err.data as { code?: string } | undefined)?.code;
  const message = err.message;
  if (code === 'UNAUTHORIZED') return { text: `Please sign in again (${message}).`, signOut: true };
  if (message === 'User has been banned') return { text: KNOWN[message]!, signOut: true };
  if (message === 'no_api_key') return { text: KNOWN.no_api_key!, noKey: true };
  const known = KNOWN[message];
  if (known) return { text: known };
  switch (code) {
    case 'BAD_REQUEST':
      return { text: `Not accepted: ${inFieldLabels(message)}` };
    case 'FORBIDDEN':
      return { text: `Not allowed: ${message}` };
    case 'NOT_FOUND':
      return { text: `Not found: ${message}` };
    case 'BAD_GATEWAY':
    case 'GATEWAY_TIMEOUT':
    case 'SERVICE_UNAVAILABLE':
      return { text: `The image service refused the job: ${message}. Any charge was refunded.` };
    default:
      return { text: message ? `Something went wrong: ${message}` : 'Something went wrong.' };
  }
}
