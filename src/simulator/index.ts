/** Public surface of the midjourney-proxy simulator (SPEC §11); everything else here is internal. */
export { startSimulator } from './server.ts';
export { SIM_FAULTS } from './types.ts';
export type { SimButton, SimFault, SimRequest, Simulator, SimulatorOptions, TaskAction, TaskStatus, TaskView, SubmitResult } from './types.ts';
export { DISCORD_INSTANCE_ID, SIM_FAIL_REASON } from './lifecycle.ts';
export { MAX_BIG_BYTES } from './images.ts';
