/** One pino logger per process; components take children. JSON lines on stdout. */
import pino, { type Logger } from 'pino';

/** Creates the process logger for a component (`dataplane`, `operator`, `engine-sim`). */
export function createLogger(component: string, level = 'info'): Logger {
  return pino({ level, base: { component }, timestamp: pino.stdTimeFunctions.isoTime });
}

export type { Logger };
