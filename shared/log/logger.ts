/**
 * One pino logger per process; components take children. JSON lines on stdout, `time` in epoch
 * milliseconds (pino's default; cheaper than ISO strings on the request path).
 *
 * Buffered loggers (the data plane's, which writes an access line per request) collect lines and
 * write them in batches of 4 KiB or every 200 ms, whichever comes first, instead of one write(2)
 * per line; they are flushed on exit.
 */
import pino, { type Logger } from 'pino';

/** Creates the process logger for a component (`dataplane`, `operator`, `engine-sim`). */
export function createLogger(component: string, level = 'info', opts: { buffered?: boolean } = {}): Logger {
  const options = { level, base: { component } };
  if (!opts.buffered) return pino(options);
  const dest = pino.destination({ dest: 1, minLength: 4096, sync: false });
  const timer = setInterval(() => {
    try {
      dest.flush();
    } catch {
      // Not open yet, or closing: the next tick or the exit flush writes it.
    }
  }, 200);
  timer.unref();
  process.once('exit', () => {
    try {
      dest.flushSync();
    } catch {
      // Nothing more can be done at exit.
    }
  });
  return pino(options, dest);
}

export type { Logger };
