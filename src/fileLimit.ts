import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { defer, map, repeat, tap, timer, type Observable, type SchedulerLike } from 'rxjs';
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
 * How many descriptors the process has open, from `/proc/self/fd` (Linux). It costs about a
 * microsecond per open descriptor, so it is used while paused, never per connection.
 *
 * @returns The count, or 0 where it cannot be read.
 */
export function openFileCount(): number {
  try {
    return readdirSync('/proc/self/fd').length - 1; // minus the descriptor readdir itself used
  } catch {
    return 0;
  }
}

/**
 * The open-descriptor count, every `minMs` or more: the period grows with the count so that
 * counting (about 1 µs per descriptor) takes at most `share` of a core. Cold: it counts only
 * while subscribed.
 *
 * @param minMs The shortest period.
 * @param share The most of a core the counting may take (0.01 is 1%).
 * @param scheduler Where the periods are timed.
 */
export function openFilesEvery(minMs: number, share: number, scheduler: SchedulerLike): Observable<number> {
  return defer(() => {
    let period = minMs;
    return defer(() => timer(period, scheduler)).pipe(
      map(() => openFileCount()),
      tap((open) => (period = Math.max(minMs, (open * 0.001) / share))),
      repeat(),
    );
  });
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
 * @param open Descriptors known to be open.
 * @param limit The soft limit.
 * @param syscall What the library was doing: `'accept'` or `'listen'`.
 */
export function fileShortage(open: number, limit: number, syscall: string): AcceptError {
  const error: AcceptError = new Error(
    `EMFILE: too many open files, ${syscall} (${open} of ${limit} descriptors open; paused before Node drops connections silently)`,
  );
  error.code = 'EMFILE';
  error.errno = -24;
  error.syscall = syscall;
  return error;
}

/**
 * Warns (through `process.emitWarning`, code `RXJS_LISTEN_FILE_LIMIT`) when `connections`
 * live connections and `waiting` queued ones cannot fit in the open-file limit next to what
 * the process already holds.
 *
 * @returns Whether a warning was emitted.
 */
export function warnIfLimitExceedsFiles(connections: number, waiting = 0, limit = readOpenFileLimit()): boolean {
  if (limit === undefined) return false;
  const open = openFileCount();
  const room = limit - open - defaultHeadroom(limit);
  if (connections + waiting <= room) return false;
  const what = waiting === 0 ? `connection limit ${connections}` : `connection limit ${connections} with a queue of ${waiting}`;
  process.emitWarning(
    `${what} cannot fit in the open-file limit ${limit} (${open} descriptors in use, ` +
      `${defaultHeadroom(limit)} kept free): the listener will pause on file shortage at about ${Math.max(room, 0)} connections. ` +
      'Raise the open-file limit (ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=) or lower the connection limit (and the queue).',
    { code: 'RXJS_LISTEN_FILE_LIMIT' },
  );
  return true;
}
