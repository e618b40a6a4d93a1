export * from './users.ts';
export * from './tokens.ts';
export * from './channels.ts';
export * from './tasks.ts';
export * from './options.ts';
export * from './logs.ts';
export * from './task-counters.ts';
export * from './task-buckets.ts';
