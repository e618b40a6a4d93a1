import type { Logger } from './logger.ts';

/**
 * The last safety net of a gateway process: an error nothing caught (an unhandled rejection or an
 * exception thrown from a timer or a socket callback). One the caller knows to be recoverable (the
 * database driver's, while the server is away: the pool reconnects by itself) is logged at error
 * and the process keeps serving; any other is logged and ends the process with code 1, as the
 * runtime would, since its state is then unknown. Only the name, code and message are logged (no
 * query parameters, no URL with a password), and the stack of an error that ends the process.
 */
export function installProcessFaultHandlers(
  logger: Logger,
  isRecoverable: (err: unknown) => boolean,
  exit: (code: number) => void = (c) => process.exit(c),
): () => void {
  const describe = (err: unknown) =>
    err instanceof Error
      ? { name: err.name, message: err.message, code: (err as { code?: unknown }).code }
      : { message: String(err) };
  const handle = (kind: 'unhandled rejection' | 'uncaught exception') => (err: unknown) => {
    if (isRecoverable(err)) {
      logger.error(`${kind} (recoverable, still serving)`, { error: describe(err) });
      return;
    }
    // Our own bug, most likely: where it was thrown is what the operator needs to report it.
    logger.error(`${kind}: exiting`, { error: describe(err), stack: err instanceof Error ? err.stack : undefined });
    exit(1);
  };
  const onRejection = handle('unhandled rejection');
  const onException = handle('uncaught exception');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
