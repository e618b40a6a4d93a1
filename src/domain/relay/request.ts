import { AppError } from '../errors.ts';
import {
  CROSS_FIELD_MESSAGES,
  CROSS_FIELD_RULES,
  parseSubmitBody,
  requireObject,
  type SubmitBody,
  type SubmitKind,
} from './schemas.ts';

/**
 * The typed submit request the domain runs (SPEC §7.2, §14): one shape per submit kind of §7.1.
 * The relay reads its HTTP body into one; `mj.submit` builds one from its own typed input. Both
 * then call `submitTask` with it, so neither surface goes through the other.
 */
export interface SubmitRequestOf<K extends SubmitKind> {
  kind: K;
  /** The fields the flow decides with, already checked (by the relay's schema or the typed input's). */
  fields: SubmitBody<K>;
  /**
   * The body forwarded upstream (before the options of SPEC §3 filter it): the client's JSON object
   * as received on the relay, unknown fields kept; the typed fields on `mj.submit`.
   */
  forward: Record<string, unknown>;
  /** Path and query forwarded as is, mode prefix included. */
  path: string;
}

export type SubmitRequest = { [K in SubmitKind]: SubmitRequestOf<K> }[SubmitKind];

/** A submit as the domain takes it: its kind first (metrics name it even when reading fails). */
export interface SubmitCall {
  kind: SubmitKind;
  requestId: string;
  /** The typed request; read after the rate limit, so a limited submit is never validated. */
  read: () => SubmitRequest;
}

/**
 * The relay's HTTP body (`undefined` when empty) read into its typed request. Not an object →
 * 400 `request body must be a JSON object`; an invalid field → 400 naming it (SPEC §7.2 step 1).
 */
export function relaySubmitRequest(kind: SubmitKind, path: string, raw: unknown): SubmitRequest {
  const forward = { ...requireObject(raw) };
  // parseSubmitBody(kind) is the schema of `kind`, so the pair is one member of the union.
  return { kind, fields: parseSubmitBody(kind, forward), forward, path } as SubmitRequest;
}

const invalid = (message: string) => new AppError('BAD_REQUEST', message, 'invalid_request');

/**
 * The rules that span fields, with the relay schemas' own messages. A relay request passed them in
 * its schema already; a typed one is held to them here, before anything is decided or charged.
 */
export function checkCrossFieldRules(req: SubmitRequest): void {
  switch (req.kind) {
    case 'describe':
      if (!CROSS_FIELD_RULES.describe(req.fields)) throw invalid(CROSS_FIELD_MESSAGES.describe);
      return;
    case 'swap':
      if (!CROSS_FIELD_RULES.swapSource(req.fields)) throw invalid(CROSS_FIELD_MESSAGES.swapSource);
      if (!CROSS_FIELD_RULES.swapTarget(req.fields)) throw invalid(CROSS_FIELD_MESSAGES.swapTarget);
      return;
    case 'change':
      if (!CROSS_FIELD_RULES.changeIndex(req.fields)) throw invalid(CROSS_FIELD_MESSAGES.changeIndex);
      return;
    default:
      return;
  }
}
