import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { Observable, type SchedulerLike } from 'rxjs';
import type { AcceptError } from '../errors/result';
import { show } from '../util/validate';

// Node on Linux/macOS never reports accept EMFILE (libuv accepts and closes the pending connections
// silently), so the library watches the descriptors itself: an accepted socket's number per
// connection, which costs nothing measurable; counting them would (docs/inside.md).

/**
 * The process's soft limit on open files (`ulimit -n`), from the text of `/proc/self/limits` (read
 * when `limits` is omitted); `undefined` where it cannot be read (not Linux) or is unlimited.
 *
 * @throws {TypeError} When `limits` is given and is not a string.
 */
export function readOpenFileLimit(limits?: string): number | undefined {
  if (limits !== undefined && typeof limits !== 'string') throw new TypeError(`readOpenFileLimit: limits must be a string (the text of /proc/self/limits), got ${show(limits)}`);
  try {
    const soft = /^Max open files\s+(\d+)/m.exec(limits ?? readFileSync('/proc/self/limits', 'utf8'));
    return soft ? Number(soft[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** About what the last {@link openFileCount} cost, in ms. */
let countCostMs = 0;

/**
 * How many descriptors the process has open, 0 where it cannot be read: since Linux 6.2 the size
 * `stat` gives `/proc/self/fd`, a few µs; before, a listing, about 1 µs per descriptor (measured).
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

/**
 * The open-descriptor count, every `minMs` or more: the period grows with what a count costs up to
 * `share` of a core (0.01 is 1%), and doubles up to `steadyMs` while the count stays the same. Cold.
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

/** The shortage Node would hide, as the EMFILE it would have reported, with the figures in the message. */
export function fileShortage(open: number, limit: number, syscall: 'accept' | 'listen'): AcceptError {
  const error: AcceptError = new Error(
    `EMFILE: too many open files, ${syscall} (${open} of ${limit} descriptors open; paused before Node drops connections silently)`,
  );
  error.code = 'EMFILE';
  error.errno = -24;
  error.syscall = syscall;
  return error;
}

/** Warns (code `RXJS_LISTEN_FILE_LIMIT`), and returns true, when so many live and queued connections cannot fit in the open-file limit. */
export function warnIfLimitExceedsFiles(connections: number, waiting: number, limit = readOpenFileLimit()): boolean {
  if (limit === undefined) return false;
  const open = openFileCount();
  const headroom = defaultHeadroom(limit);
  const room = limit - open - headroom;
  if (connections + waiting <= room) return false;
  const what = waiting === 0 ? `connection limit ${connections}` : `connection limit ${connections} with a queue of ${waiting}`;
  process.emitWarning(
    `${what} cannot fit in the open-file limit ${limit} (${open} descriptors in use, ${headroom} kept free): ` +
      `the listener will pause on file shortage at about ${Math.max(room, 0)} connections. ` +
      'Raise the open-file limit (ulimit -n, systemd LimitNOFILE=, docker --ulimit nofile=) or lower the connection limit (and the queue).',
    { code: 'RXJS_LISTEN_FILE_LIMIT' },
  );
  return true;
}
