export type { LeaseStore } from '../contract/lease.ts';

/** The poller's lease row name. */
export const POLLER_LEASE = 'poller';

/** `leader` polls; `standby` waits for the lease; `off` never polls (UPDATE_TASK=false, or stopped). */
export type PollerRole = 'leader' | 'standby' | 'off';

/** Which database a process runs on, as `/api/status` shows it. */
export type DatabaseKind = 'sqlite' | 'postgres';
