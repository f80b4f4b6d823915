import { performance } from 'node:perf_hooks';
import type { Observable } from 'rxjs';
import { settleOptions, type MonitorOptions } from './options';
import { sampleLoop } from './sample';

/** Idle time below this in a window is the poll returning at once, not the loop waiting. */
const WAITED_MS = 0.1;

/**
 * How long the event loop has been busy without once waiting for I/O, in ms, each window (0 after
 * one in which it waited): a bound on how long a new connection waited in the kernel's accept
 * queue, which event-loop delay cannot see (Node accepts one connection per turn, measured).
 * Windows are `every` ms while the loop is more than half busy, doubling up to `idleEvery` while not.
 *
 * @example
 * pauseUnderPressure([{ name: 'eventLoopBusy', samples: eventLoopBusyMs(10), above: 100, below: 0, unit: 'ms' }]);
 *
 * @param options `every` as a number, or an object: `every` defaults to 20 ms, `idleEvery` to 500 ms (or `every` if longer).
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
