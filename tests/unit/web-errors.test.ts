import { describe, expect, test } from 'bun:test';
import { TRPCClientError } from '@trpc/client';
import { describeProblem } from '../../src/web/errors.ts';

/** The dashboard's sentences for what the API can answer. */

function apiError(code: string, message: string, httpStatus = 400) {
  return TRPCClientError.from({ error: { message, code: -32600, data: { code, httpStatus } } });
}

describe('describeProblem', () => {
  test.each([
    ['BAD_REQUEST', 'quota_not_enough', /^Not enough quota/],
    ['BAD_REQUEST', 'no_api_key', /no usable key/],
    // Field names read as the form's labels (the Prompt box).
    ['BAD_REQUEST', 'prompt: prompt is required', /^Not accepted: Prompt: Prompt is required$/],
    ['BAD_REQUEST', 'May contain sensitive words', /^Not accepted: May contain sensitive words$/],
    ['BAD_GATEWAY', 'do_request_failed', /could not be reached.*refunded/],
    ['BAD_GATEWAY', 'upstream said no', /refused the job: upstream said no\. Any charge was refunded/],
    ['SERVICE_UNAVAILABLE', 'no available channel', /No upstream channel/],
    ['NOT_FOUND', 'task_not_found', /not found among your tasks/],
  ])('%s %s', (code, message, expected) => {
    expect(describeProblem(apiError(code, message)).text).toMatch(expected);
  });

  test('no_api_key offers a key; an invalid session or a ban signs out', () => {
    expect(describeProblem(apiError('BAD_REQUEST', 'no_api_key')).noKey).toBe(true);
    expect(describeProblem(apiError('UNAUTHORIZED', 'Unauthorized, invalid access token', 401)).signOut).toBe(true);
    const banned = describeProblem(apiError('FORBIDDEN', 'User has been banned', 403));
    expect([banned.signOut, banned.text]).toEqual([true, 'This account has been disabled. Contact an administrator.']);
    expect(
      describeProblem(apiError('FORBIDDEN', 'Unauthorized, insufficient privileges', 403)).signOut,
    ).toBeUndefined();
  });
});
