import { show } from '../util/validate';

/** How severe a line of the loop's log is. */
export type LogLevel = 'info' | 'warn' | 'error';

/** Writes one line of the loop's log: what happened in words, and the same as fields for machines. */
export type LogFunction = (level: LogLevel, message: string, fields: object) => void;

/** A logger with pino's (and bunyan's) shape: `logger.warn({ code }, 'message')`. */
export interface LevelLogger {
  /** Writes an information line (a drain, a shutdown). */
  info(fields: object, message: string): void;
  /** Writes a warning (a shortage, an overload). */
  warn(fields: object, message: string): void;
  /** Writes an error (a failure to listen). */
  error(fields: object, message: string): void;
}

/** Where the loop logs: a {@link LevelLogger} such as pino, a {@link LogFunction}, or `false` for nowhere. */
export type Logger = LevelLogger | LogFunction | false;

/** The default: one text line on stderr, as `2026-12-06T04:42:47.000Z [warn] message`. */
const toStderr: LogFunction = (level, message) => console.error(`${new Date().toISOString()} [${level}] ${message}`);

/** The {@link LogFunction} a {@link Logger} option (`name` in errors) stands for; it never throws: a logger that fails must not take the loop down. */
export function logFunction(logger: Logger | undefined, name: string): LogFunction {
  if (logger === undefined) return toStderr;
  if (logger === false) return () => undefined;
  const levels = typeof logger === 'object' && logger !== null && ['info', 'warn', 'error'].every((level) => typeof (logger as unknown as Record<string, unknown>)[level] === 'function');
  if (typeof logger !== 'function' && !levels) throw new TypeError(`${name} must be a function, a logger with info, warn and error methods (pino), or false, got ${show(logger)}`);
  const write: LogFunction = typeof logger === 'function' ? logger : (level, message, fields) => logger[level](fields, message);
  return (level, message, fields) => {
    try {
      write(level, message, fields);
    } catch {
      // A log line lost is better than a loop stopped; nothing else could report it.
    }
  };
}
