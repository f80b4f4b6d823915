import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Observable, type SchedulerLike } from 'rxjs';
import type { AcceptError } from '../errors/result';
import { show } from '../util/validate';

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
 * @throws {TypeError} When `limits` is given and is not a string.
 */
export function readOpenFileLimit(limits?: string): number | undefined {
  if (limits !== undefined && typeof limits !== 'string') throw new TypeError(`readOpenFileLimit: limits must be a string (the text of /proc/self/limits), got ${show(limits)}`);
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
 * How many descriptors the process has open (Linux). Since Linux 6.2 the size `stat` reports
 * for `/proc/self/fd` is that count, read in a few µs whatever the count; before, the size is
 * 0 and the directory is listed, which costs about a microsecond per open descriptor (measured
 * 165 µs at 100 open under a flood: a sixth of a paused server's CPU, when it counted every
 * 25 ms). Used while paused and every second or so, never per connection.
 *
 * @returns The count, or 0 where it cannot be read.
 */
export function openFileCount(): number {
  try {
    const size = statSync('/proc/self/fd').size;
    if (size > 0) {
      countCostMs = 0.005;
      return size;
    }
    const open = readdirSync('/proc/self/fd').length - 1; // minus the descriptor readdir itself used
    countCostMs = open * 0.001;
    return open;
  } catch {
    return 0;
  }
}

/** About what the last {@link openFileCount} cost, in ms. */
let countCostMs = 0;

/**
 * The open-descriptor count, every `minMs` or more: the period grows with what a count costs
 * (a few µs by `stat`; about 1 µs per descriptor where the directory is listed) so that
 * counting takes at most `share` of a core, and, up to `steadyMs`, doubles while the count
 * stays the same (at a change it is `minMs` again). Cold: it counts only while subscribed.
 *
 * @param minMs The shortest period.
 * @param share The most of a core the counting may take (0.01 is 1%).
 * @param scheduler Where the periods are timed.
 * @param steadyMs The longest period while the count does not change. Default `minMs`.
 */
export function openFilesEvery(minMs: number, share: number, scheduler: SchedulerLike, steadyMs = minMs): Observable<number> {
  // One action that reschedules itself: a timer per count, resubscribed by repeat(), measured
  // costlier than the count itself while a listener was paused on shortage.
  return new Observable<number>((subscriber) => {
    let last = -1;
    let period = minMs;
    return scheduler.schedule(function () {
      const open = openFileCount();
      subscriber.next(open);
      period = open === last ? Math.min(period * 2, steadyMs) : minMs;
      last = open;
      if (!subscriber.closed) this.schedule(undefined, Math.max(period, countCostMs / share));
    }, minMs);
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
