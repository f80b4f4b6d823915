import { performance } from 'node:perf_hooks';
import type { Observable } from 'rxjs';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

/** Idle time below this in a window is the poll returning at once, not the loop waiting. */
const WAITED_MS = 0.1;

/**
 * How long the event loop has been busy without once waiting for I/O, in ms, each window.
 *
 * It reads 0 after a window in which the loop waited. This bounds how long a new connection
 * can have waited in the kernel's accept queue: a loop that waits for I/O has nothing ready,
 * so the queue was empty then. Event-loop delay cannot see that wait, because Node accepts one
 * connection per loop turn (libuv's one `accept4` per poll, measured): a saturated server with
 * a full accept queue still turns once per request, its timers late by one request, while
 * every client waits in the kernel for hundreds of requests. Windows are `every` ms while the
 * loop is more than half busy and double up to `idleEvery` ms while it is not.
 *
 * @example
 * // No client 100 ms in the kernel: pause above 100 ms, resume once the loop has waited.
 * pauseUnderPressure([{ name: 'eventLoopBusy', samples: eventLoopBusyMs(10), above: 100, below: 0, unit: 'ms' }]);
 *
 * @param options `every` as a number, or an object:
 *   `every`, the window while the loop is more than half busy, ms (default 20);
 *   `idleEvery`, the longest window while it is at most half busy, ms (default 500, or `every` if longer);
 *   `scheduler`, where windows are timed (default `asyncScheduler`).
 * @returns Cold: it runs only while subscribed.
 * @throws {TypeError | RangeError} At call time, on an option out of range, naming it and its value.
 */
export function eventLoopBusyMs(options?: number | MonitorOptions): Observable<number> {
  return sampleLoop(settleOptions('eventLoopBusyMs', options, { every: 20, idleEvery: 500 }), () => {
    let since = performance.now(); // the last moment it is known to have waited
    return (window) => {
      const at = performance.now();
      if (window.idle >= WAITED_MS) since = at;
      return at - since;
    };
  });
}
