import { closeSync, openSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import type { AcceptError } from './result';

/*
 * Node on Linux/macOS never reports accept EMFILE to JavaScript: libuv closes a reserve
 * descriptor, accepts and closes every pending connection, and returns silently. So the
 * library watches the descriptors itself. Linux hands out the lowest free descriptor number,
 * so an accepted socket's number N means descriptors 0..N-1 are all open: when N comes within
 * `headroom` of the soft limit, the process is about to run out. Reading one number per
 * connection costs nothing measurable; counting /proc/self/fd would.
 */

/**
 * The process's soft limit on open files (`ulimit -n`), from `/proc/self/limits`.
 *
 * @param limits The file's text (read from `/proc/self/limits` when omitted).
 * @returns The limit, or `undefined` where it cannot be read (not Linux) or is unlimited.
 */
export function readOpenFileLimit(limits?: string): number | undefined {
  let text = limits;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const soft = /^Max open files\s+(\d+)/m.exec(text);
  return soft ? Number(soft[1]) : undefined;
}

/**
 * The lowest free descriptor number, found by opening `/dev/null` and closing it again
 * (a few microseconds; used when resuming, never per connection).
 *
 * @returns The number; `Infinity` when no descriptor is free (EMFILE/ENFILE); -1 when it cannot
 * be told (no `/dev/null`), which the callers read as "no shortage seen".
 */
export function lowestFreeFd(): number {
  try {
    const fd = openSync('/dev/null', 'r');
    closeSync(fd);
    return fd;
  } catch (error) {
    const code = (error as AcceptError).code;
    return code === 'EMFILE' || code === 'ENFILE' ? Infinity : -1;
  }
}

/** @returns The descriptor number of a socket Node accepted, or -1 where Node has none (Windows). */
export function socketFd(socket: Socket): number {
  return (socket as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
}

/** The default headroom: 5% of the limit, at least 16 descriptors (Node itself, files, DNS). */
export function defaultHeadroom(limit: number): number {
  return Math.max(16, Math.ceil(limit * 0.05));
}

/**
 * The shortage Node would hide, as the error it would have reported: code EMFILE, errno -24,
 * with the figures in the message so the log says what was seen.
 *
 * @param fd The lowest descriptor number known to be free (or just taken).
 * @param limit The soft limit.
 * @param syscall What the library was doing: `'accept'` or `'listen'`.
 */
export function fileShortage(fd: number, limit: number, syscall: string): AcceptError {
  const seen = Number.isFinite(fd) ? `descriptor ${fd} is within reach of` : 'no descriptor is free under';
  const error: AcceptError = new Error(
    `EMFILE: too many open files, ${syscall} (${seen} the open-file limit ${limit}; accepting paused before Node drops connections silently)`,
  );
  error.code = 'EMFILE';
  error.errno = -24;
  error.syscall = syscall;
  return error;
}

/**
 * Warns (through `process.emitWarning`, code `RXJS_LISTEN_FILE_LIMIT`) when `connections`
 * live connections cannot fit in the open-file limit next to what the process already holds.
 *
 * @returns Whether a warning was emitted.
 */
export function warnIfLimitExceedsFiles(connections: number, limit = readOpenFileLimit()): boolean {
  if (limit === undefined) return false;
  const open = lowestFreeFd();
  const room = limit - Math.min(open, limit) - defaultHeadroom(limit);
  if (connections <= room) return false;
  process.emitWarning(
    `connection limit ${connections} cannot fit in the open-file limit ${limit} (${open} descriptors in use, ` +
      `${defaultHeadroom(limit)} kept free): the listener will pause on file shortage at about ${Math.max(room, 0)} connections. ` +
      'Raise the open-file limit (ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=) or lower the connection limit.',
    { code: 'RXJS_LISTEN_FILE_LIMIT' },
  );
  return true;
}
