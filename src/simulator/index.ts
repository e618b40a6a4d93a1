/** Public surface of the midjourney-proxy simulator (SPEC §11); everything else here is internal. */

export { MAX_BIG_BYTES } from './images.ts';
export { DISCORD_INSTANCE_ID, SIM_FAIL_REASON } from './lifecycle.ts';
export { startSimulator } from './server.ts';
export type {
  SimButton,
  SimFault,
  SimRequest,
  Simulator,
  SimulatorOptions,
  SubmitResult,
  TaskAction,
  TaskStatus,
  TaskView,
} from './types.ts';
export { SIM_FAULTS } from './types.ts';
