import { describe, expect, test } from 'bun:test';
import { isRecoverableDriverFault } from '../../src/db/pg/health.ts';
import { createLogger } from '../../src/lib/logger.ts';
import { installProcessFaultHandlers } from '../../src/lib/process-faults.ts';

/**
 * The process-level safety net of src/index.ts: a database driver fault nothing caught is logged
 * at error and the process keeps serving; anything else is logged and ends the process (code 1).
 */

function harness() {
  const lines: Array<{ level: string; msg: string; error?: { message?: string } }> = [];
  const exits: number[] = [];
  const logger = createLogger('debug', {}, (l) => lines.push(JSON.parse(l)));
  const uninstall = installProcessFaultHandlers(logger, isRecoverableDriverFault, (code) => exits.push(code));
  return { lines, exits, uninstall };
}

/** An error as postgres.js throws it from its connection (the stack names its file). */
function driverTypeError(): TypeError {
  const err = new TypeError("null is not an object (evaluating 'socket.write')");
  err.stack = `${err.message}\n    at nextWrite (/app/node_modules/postgres/src/connection.js:255:15)`;
  return err;
}

describe('installProcessFaultHandlers', () => {
  test('a driver fault (uncaught, or an outage rejection) is logged at error and the process stays', () => {
    const h = harness();
    try {
      process.emit('uncaughtException', driverTypeError());
      process.emit(
        'unhandledRejection',
        Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
        Promise.resolve(),
      );
    } finally {
      h.uninstall();
    }
    expect(h.exits).toEqual([]);
    expect(h.lines.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'uncaught exception (recoverable, still serving)'],
      ['error', 'unhandled rejection (recoverable, still serving)'],
    ]);
  });

  test('any other error is logged and ends the process with code 1', () => {
    const h = harness();
    try {
      process.emit('unhandledRejection', new RangeError('a bug of ours'), Promise.resolve());
    } finally {
      h.uninstall();
    }
    expect(h.exits).toEqual([1]);
    expect(h.lines).toHaveLength(1);
    expect(h.lines[0]).toMatchObject({
      level: 'error',
      msg: 'unhandled rejection: exiting',
      error: { message: 'a bug of ours' },
    });
  });

  test('uninstalled, it no longer listens', () => {
    const before = process.listenerCount('unhandledRejection');
    harness().uninstall();
    expect(process.listenerCount('unhandledRejection')).toBe(before);
  });
});
