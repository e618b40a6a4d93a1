import type { TaskRow } from '../../contract/rows.ts';
import type { ChargeInput, SettleInput } from '../../contract/tasks.ts';
import { FREE_ACTIONS } from '../actions.ts';
import { boundJsonText, boundText, boundUrl, MAX_ID_CHARS, storableText } from '../bounds.ts';
import { AppError } from '../errors.ts';
import { enforceSubmitRateLimit } from '../rate-limit.ts';
import { boundUpstreamNumber, warnFellBack, warnOnceFor } from '../upstream-numbers.ts';
import { webhookPayloadOf } from '../webhooks.ts';
import { acceptedTaskRow } from './accepted-row.ts';
import { forwardWithFailover } from './failover.ts';
import { planSubmit, type SubmitPlan } from './plan.ts';
import { checkCrossFieldRules, type SubmitCall } from './request.ts';
import type { RelayAnswer, RelayCallerInfo, RelayEnv } from './types.ts';

/**
 * The submit flow of SPEC §7.2: plan (validate, resolve, pick the channel) → charge and record the
 * task in one synchronous transaction → call the upstream outside any transaction → settle the
 * task with the upstream answer, or fail it and refund exactly once.
 */

/**
 * What a submit came to, for both surfaces: the relay answers `status` and `body` as they are;
 * `mj.submit` reads `accepted`, and a refusal's upstream `code` and `description`.
 */
export type SubmitAnswer = RelayAnswer & { taskId: number } & (
    | {
        accepted: true;
        /** The task row as the submit left it, when its settle won (else a later writer has it: read it). */
        task?: TaskRow;
      }
    | {
        accepted: false;
        /** The upstream's code, as the client is answered with it. */
        code: number;
        /** The upstream's description as it sent it ('' when it sent none). */
        description: string;
      }
  );

/** Upstream codes that mean "accepted": submitted, modal wait / existed, queued. */
const ACCEPTED_CODES: ReadonlySet<number> = new Set([1, 21, 22]);

interface SubmitResult {
  /** As the upstream sent it: what the client is answered with. */
  code: number;
  /** What the task's `code` column (int4) stores: `code`, or 0 when it does not fit (SPEC §10). */
  storedCode: number;
  description: string;
  result: unknown;
  properties: Record<string, unknown>;
  /** The upstream JSON object as received. */
  raw: Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Read a midjourney-proxy SubmitResultVO, or null when the answer is not one. */
function submitResultOf(json: unknown): SubmitResult | null {
  if (!isPlainObject(json) || typeof json.code !== 'number' || !Number.isInteger(json.code)) return null;
  return {
    code: json.code,
    storedCode: boundUpstreamNumber(json.code, 'int4').value,
    description: typeof json.description === 'string' ? storableText(json.description) : '',
    result: json.result,
    properties: isPlainObject(json.properties) ? json.properties : {},
    raw: json,
  };
}

/** The upstream body for the client: re-serialised with `properties` always an object. */
function clientBody(r: SubmitResult, code: number): Record<string, unknown> {
  return { ...r.raw, code, properties: r.properties };
}

/** What a submit got to, for its metrics label: the action once resolved, the upstream's code once answered. */
interface SubmitNote {
  action?: string;
  upstreamCode?: number;
}

/** Charge, forward and settle one typed submission. Local refusals are thrown as AppError. */
export async function submitTask(env: RelayEnv, caller: RelayCallerInfo, call: SubmitCall): Promise<SubmitAnswer> {
  const note: SubmitNote = {};
  const label = () => note.action ?? call.kind.toUpperCase().replace(/-/g, '_');
  try {
    const answer = await runSubmit(env, caller, call, note);
    env.metrics?.submitOutcome(label(), note.upstreamCode ?? answer.status);
    return answer;
  } catch (err) {
    env.metrics?.submitOutcome(
      label(),
      err instanceof AppError ? (err.code ?? err.kind.toLowerCase()) : 'internal_error',
    );
    throw err;
  }
}

async function runSubmit(
  env: RelayEnv,
  caller: RelayCallerInfo,
  call: SubmitCall,
  note: SubmitNote,
): Promise<SubmitAnswer> {
  // Before anything else: a limited submit is neither validated, charged nor forwarded.
  await enforceSubmitRateLimit(env, caller.tokenId, caller.rateLimitPerMinute);
  const req = call.read();
  checkCrossFieldRules(req);
  const plan = await planSubmit(env, caller, req);
  note.action = plan.action;
  const price = FREE_ACTIONS.has(plan.action) ? 0 : env.options.quotaFor(plan.modelName);
  const submitTime = env.clock.now();
  // Throws quota_not_enough with nothing written and nothing forwarded.
  const charge: ChargeInput = {
    userId: caller.userId,
    tokenId: caller.tokenId,
    unlimitedToken: caller.unlimitedToken,
    channelId: plan.channel.id,
    modelName: plan.modelName,
    quota: price,
    now: submitTime,
    task: {
      action: plan.action,
      mjId: '',
      prompt: boundText(storableText(plan.prompt)),
      state: boundText(storableText(plan.state)),
      submitTime,
      progress: '0%',
      status: '',
      updatedTime: submitTime,
    },
    hookUrl: plan.notifyHook,
  };
  const taskId = await env.taskStore.money.chargeAndRecord(charge);
  if (taskId === 'quota_not_enough') throw new AppError('BAD_REQUEST', 'quota_not_enough', 'quota_not_enough');
  env.metrics?.quotaCharged(price);
  env.taskFeed.publish([taskId]);
  const log = env.logger.child({
    requestId: call.requestId,
    userId: caller.userId,
    taskId,
    action: plan.action,
    channelId: plan.channel.id,
  });

  // New jobs refused before the upstream could have taken them move to the next channel (SPEC §15).
  const { outcome, channel } = await forwardWithFailover(env, plan, taskId, log);

  const reject = async (failReason: string, extra: Record<string, unknown> = {}) => {
    const now = env.clock.now();
    const hook = plan.notifyHook ? webhookPayloadOf(now, webhookLinks(env)) : undefined;
    const r = await env.taskStore.money.failAndRefund(
      taskId,
      price,
      { failReason: failReason.slice(0, 1000), finishTime: now, ...extra },
      now,
      plan.modelName,
      hook,
    );
    env.metrics?.quotaRefunded(r.refunded);
    if (!r.won) log.warn('rejected submit already ended elsewhere; no refund from here', { failReason });
    env.taskFeed.publish([taskId]);
  };

  if (outcome.kind === 'timeout') {
    log.warn('upstream submit timed out', { timeoutMs: env.upstreamTimeoutMs });
    await reject(`upstream_timeout: no answer within ${env.upstreamTimeoutMs} ms`);
    throw new AppError('TIMEOUT', 'upstream_timeout', 'upstream_timeout');
  }
  if (outcome.kind === 'network') {
    log.warn('upstream submit failed', { error: outcome.message });
    await reject(`do_request_failed: ${outcome.message}`);
    throw new AppError('UPSTREAM', 'do_request_failed', 'do_request_failed');
  }
  const answer = submitResultOf(outcome.json);
  if (answer) note.upstreamCode = answer.code;
  if (answer && answer.storedCode !== answer.code)
    warnFellBack(warnOnceFor(env.logger), channel.id, 'code', answer.code, answer.storedCode);
  if (!answer) {
    log.warn('upstream submit answer is not a submit result', { status: outcome.status });
    await reject(`unmarshal_response_body_failed: upstream HTTP ${outcome.status}`);
    throw new AppError('UPSTREAM', 'unmarshal_response_body_failed', 'unmarshal_response_body_failed');
  }

  const httpOk = outcome.status >= 200 && outcome.status < 300;
  if (!httpOk || !ACCEPTED_CODES.has(answer.code)) {
    const resultId = typeof answer.result === 'string' ? boundText(storableText(answer.result), MAX_ID_CHARS) : '';
    await reject(answer.description || `upstream code ${answer.code}`, {
      code: answer.storedCode,
      description: boundText(answer.description),
      mjId: resultId,
    });
    if (answer.code === 3) {
      await env.store.channels.autoDisable(channel.id);
      log.warn('channel auto-disabled: upstream answered code 3', {
        description: answer.description,
        channelId: channel.id,
      });
    } else {
      log.info('upstream refused submit', { code: answer.code, status: outcome.status });
    }
    const description = typeof answer.raw.description === 'string' ? answer.raw.description : '';
    return {
      status: outcome.status,
      body: clientBody(answer, answer.code),
      taskId,
      accepted: false,
      code: answer.code,
      description,
    };
  }

  const settled = await settleAccepted(env, plan, taskId, answer);
  env.taskFeed.publish([taskId]);
  if (!settled.ok) {
    await reject('unmarshal_response_body_failed: upstream accepted without a task id', {
      code: answer.storedCode,
      description: boundText(answer.description),
    });
    throw new AppError('UPSTREAM', 'unmarshal_response_body_failed', 'unmarshal_response_body_failed');
  }
  if (!settled.won)
    log.warn('accepted submit lost the race: the task was already ended (and refunded) elsewhere', {
      mjId: settled.mjId,
    });
  else log.info('submit accepted', { code: answer.code, mjId: settled.mjId, channelId: channel.id });
  // 21 (modal wait / existed) and 22 (queued) read as 1 to clients, except the free modal openers.
  const code = answer.code === 22 || (answer.code === 21 && !FREE_ACTIONS.has(plan.action)) ? 1 : answer.code;
  const task = settled.won ? acceptedTaskRow(taskId, charge, channel.id, settled.input) : undefined;
  return { status: outcome.status, body: clientBody(answer, code), taskId, accepted: true, task };
}

/** The image-link policy of webhook payloads, read when the change is written. */
function webhookLinks(env: RelayEnv) {
  return () => ({ forward: env.options.get('mj_forward_url_enabled'), serverAddress: env.serverAddress() });
}

/**
 * Write the upstream's acceptance onto the task row. A compare-and-set on "still unfinished": a
 * crash-recovery sweep may have failed and refunded the row while we waited, and then it stays so.
 */
async function settleAccepted(
  env: RelayEnv,
  plan: SubmitPlan,
  taskId: number,
  answer: SubmitResult,
): Promise<{ ok: false } | { ok: true; won: boolean; mjId: string; input: SettleInput }> {
  const upload = plan.action === 'UPLOAD';
  let mjId = '';
  if (upload) {
    if (!Array.isArray(answer.result)) return { ok: false };
  } else {
    // An id longer than any real one cannot be stored whole, and a cut one would never match.
    mjId = typeof answer.result === 'string' ? storableText(answer.result).trim() : '';
    if (mjId === '' || mjId.length > MAX_ID_CHARS) return { ok: false };
  }
  const now = env.clock.now();
  // An upload is done at once; so is a code-21 "already exists" answer carrying status SUCCESS.
  const existed = answer.code === 21 && answer.properties.status === 'SUCCESS';
  const done = upload || existed;
  // What the upstream sends back is cut before it is stored (SPEC §10).
  const imageUrl =
    existed && typeof answer.properties.imageUrl === 'string'
      ? boundUrl(storableText(answer.properties.imageUrl))
      : undefined;
  const props = Object.keys(answer.properties).length ? boundJsonText(JSON.stringify(answer.properties)) : '';
  // The consume row gets its mj_id in the same transaction, so no charge is ever left unnamed.
  const input: SettleInput = {
    done,
    withImage: imageUrl !== undefined,
    params: {
      taskId,
      mjId,
      code: answer.storedCode,
      description: boundText(answer.description),
      properties: props,
      now,
      status: done ? 'SUCCESS' : '',
      progress: done ? '100%' : '0%',
      imageUrl: imageUrl ?? '',
    },
  };
  const won = await env.taskStore.money.settleAccepted(
    input,
    plan.notifyHook !== null ? webhookPayloadOf(now, webhookLinks(env)) : null,
  );
  return { ok: true, won, mjId, input };
}
