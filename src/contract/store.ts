import type { ManagementStore } from './management.ts';

/**
 * The one storage interface the domain needs; an adapter per dialect implements it
 * (src/db/sqlite now, src/db/pg next). The domain never asks which one it has: `kind` is for
 * reporting only (`/api/status`).
 */
export interface Store extends ManagementStore {
  readonly kind: 'sqlite' | 'postgres';
}
