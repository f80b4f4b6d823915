import { performance } from 'node:perf_hooks';
import type { Observable, SchedulerLike } from 'rxjs';
import { sampleLoop } from './sample';

/** Idle time below this in a window is the poll returning at once, not the loop waiting. */
const WAITED_MS = 0.1;

/**
 * How long the event loop has been busy without once waiting for I/O, in ms, read every window:
 * 0 after a window in which it waited. This bounds how long a new connection can have waited in
 * the kernel's accept queue: a loop that waits for I/O has nothing ready, so the queue was empty
 * then. Event-loop delay cannot see that wait, because Node accepts one connection per loop turn
 * (libuv's one `accept4` per poll, measured): a saturated server with a full accept queue still
 * turns once per request, its timers late by one request, while every client waits in the
 * kernel for hundreds of requests. Windows are `every` ms while the loop is more than half busy
 * and double up to `idleEvery` ms while it is not.
 *
 * @param every The window under load, ms. Default 20.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The window while at most half busy, ms. Default 500.
 * @returns Cold: it runs only while subscribed.
 */
export function eventLoopBusy(every = 20, scheduler?: SchedulerLike, idleEvery = 500): Observable<number> {
  return sampleLoop('eventLoopBusy', every, scheduler, idleEvery, () => {
    let since = performance.now(); // the last moment it is known to have waited
    return (window) => {
      const at = performance.now();
      if (window.idle >= WAITED_MS) since = at;
      return at - since;
    };
  });
}
