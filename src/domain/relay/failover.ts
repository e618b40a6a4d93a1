import type { Logger } from '../../lib/logger.ts';
import { callUpstream, type UpstreamOutcome } from '../../upstream/http.ts';
import { type Channel, pickChannelFrom } from '../channels.ts';
import type { SubmitPlan } from './plan.ts';
import type { RelayEnv } from './types.ts';

/**
 * Channel failover inside one submit (SPEC §15). A new job whose channel surely did not take it
 * (no connection, HTTP 5xx, code 3 "no account", code 23 "queue full") is sent to the next enabled
 * channel, at most `SUBMIT_FAILOVER` more. The charge was made once before the first call; each
 * move re-points the task (and the channel accounting of its charge) in a small compare-and-set
 * transaction, so the task ends up on the channel that answered last. A timeout or a connection
 * dropped after sending is never retried: the upstream may have the job. Follow-ups never move.
 */

export const DEFAULT_SUBMIT_FAILOVER = 2;

export type FailoverReason = 'connect' | 'http_5xx' | 'code_3' | 'code_23';

export interface ForwardResult {
  outcome: UpstreamOutcome;
  /** The channel that gave `outcome` (the one the task now records). */
  channel: Channel;
}

/** Why this outcome may go to another channel, or null when it must stand. */
export function failoverReasonOf(outcome: UpstreamOutcome): FailoverReason | null {
  if (outcome.kind === 'timeout') return null;
  if (outcome.kind === 'network') return outcome.stage === 'connect' ? 'connect' : null;
  if (outcome.status >= 500) return 'http_5xx';
  const json = outcome.json;
  const code =
    typeof json === 'object' && json !== null && 'code' in json ? (json as { code: unknown }).code : undefined;
  if (code === 3) return 'code_3';
  if (code === 23) return 'code_23';
  return null;
}

/**
 * The body forwarded to one channel: with upstream push on (SPEC §16) it carries the gateway's own
 * hook for that channel in place of anything the client sent (a client's hook gets only the
 * gateway's signed webhook, never the upstream's call).
 */
async function forwardBodyFor(env: RelayEnv, plan: SubmitPlan, channelId: number): Promise<Record<string, unknown>> {
  const hook = env.upstreamHooks ? await env.upstreamHooks.hookFor(channelId) : null;
  return hook === null ? plan.forwardBody : { ...plan.forwardBody, notifyHook: hook };
}

/** Forward the plan's request to its channel, failing over as above. Never throws for upstream trouble. */
export async function forwardWithFailover(
  env: RelayEnv,
  plan: SubmitPlan,
  taskId: number,
  log: Logger,
): Promise<ForwardResult> {
  const maxMoves = plan.newJob ? (env.submitFailover ?? DEFAULT_SUBMIT_FAILOVER) : 0;
  const tried = new Set<number>();
  let channel = plan.channel;
  for (let moves = 0; ; moves++) {
    tried.add(channel.id);
    const target = channel;
    const body = await forwardBodyFor(env, plan, target.id);
    const forward = () =>
      callUpstream(
        env.fetch,
        { baseUrl: target.baseUrl, key: target.key },
        {
          method: 'POST',
          path: plan.forwardPath,
          body,
          timeoutMs: env.upstreamTimeoutMs,
        },
      );
    const outcome = await (env.metrics ? env.metrics.timeUpstream(target.id, 'submit', forward) : forward());
    const reason = moves < maxMoves ? failoverReasonOf(outcome) : null;
    if (!reason) return { outcome, channel };
    const next = await pickChannelFrom(env.store, Math.random, tried);
    if (!next) return { outcome, channel };
    // The answer of the channel we leave is final for it: code 3 means it has no account.
    if (reason === 'code_3') {
      await env.store.channels.autoDisable(channel.id);
      log.warn('channel auto-disabled: upstream answered code 3', { channelId: channel.id });
    }
    if (!(await env.taskStore.money.moveTaskChannel(taskId, channel.id, next.id, env.clock.now()))) {
      log.warn('failover stopped: the task was ended elsewhere', { channelId: channel.id });
      return { outcome, channel };
    }
    env.metrics?.submitFailover(channel.id, reason);
    log.warn('submit failed over to another channel', { from: channel.id, to: next.id, reason });
    channel = next;
  }
}
