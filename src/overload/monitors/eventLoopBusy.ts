import { performance } from 'node:perf_hooks';
import type { Observable } from 'rxjs';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

/** Idle time below this in a window is the poll returning at once, not the loop waiting. */
const WAITED_MS = 0.1;

/**
 * How long the event loop has been busy without once waiting for I/O, in ms, each window; 0 after
 * a window in which it waited. It bounds how long a new connection can have waited in the
 * kernel's accept queue (a loop that waits has nothing ready), which event-loop delay cannot
 * see: Node accepts one connection per loop turn (libuv's one `accept4` per poll, measured), so a
 * saturated server's timers are late by one request while every client waits in the kernel for
 * hundreds. Windows are `every` ms while the loop is more than half busy, doubling up to
 * `idleEvery` while it is not.
 *
 * @example
 * // No client 100 ms in the kernel: pause above 100 ms, resume once the loop has waited.
 * pauseUnderPressure([{ name: 'eventLoopBusy', samples: eventLoopBusyMs(10), above: 100, below: 0, unit: 'ms' }]);
 *
 * @param options `every` as a number, or {@link MonitorOptions}: `every` defaults to 20 ms,
 *   `idleEvery` to 500 ms (or `every` if longer).
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
