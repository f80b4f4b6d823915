/*
 * The monitors' names before their unit was in them, with their positional parameters: kept
 * for one minor version, so that callers neither break nor change behaviour, and removed in
 * 0.3. Each forwards to its replacement, its errors naming the old function and parameter.
 */
import type { Observable, SchedulerLike } from 'rxjs';
import type { Limiter } from '../../limit/limiter';
import { eventLoopBusyAs } from './eventLoopBusy';
import { eventLoopDelayAs } from './eventLoopDelay';
import { heapUsedAs, rssAs } from './memory';
import { serviceTimeAs } from './serviceTime';

/**
 * Event-loop delay in ms: the old name and parameters of {@link overload!eventLoopDelayMs}.
 *
 * @deprecated Use eventLoopDelayMs({ every, scheduler, idleEvery }) instead; removed in 0.3.
 *
 * @example
 * eventLoopDelay(100); // now: eventLoopDelayMs(100)
 *
 * @param every The window under delay, ms. Default 100.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The window while delays stay under 10 ms, ms. Default 500, or `every` if longer.
 * @returns Cold: it runs only while subscribed.
 */
export function eventLoopDelay(every?: number, scheduler?: SchedulerLike, idleEvery?: number): Observable<number> {
  return eventLoopDelayAs({ name: 'eventLoopDelay', positional: true }, { every, scheduler, idleEvery });
}

/**
 * Event-loop time busy without waiting, in ms: the old name and parameters of eventLoopBusyMs.
 *
 * It forwards to {@link overload!eventLoopBusyMs}.
 *
 * @deprecated Use eventLoopBusyMs({ every, scheduler, idleEvery }) instead; removed in 0.3.
 *
 * @example
 * eventLoopBusy(10); // now: eventLoopBusyMs(10)
 *
 * @param every The window under load, ms. Default 20.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The window while at most half busy, ms. Default 500, or `every` if longer.
 * @returns Cold: it runs only while subscribed.
 */
export function eventLoopBusy(every?: number, scheduler?: SchedulerLike, idleEvery?: number): Observable<number> {
  return eventLoopBusyAs({ name: 'eventLoopBusy', positional: true }, { every, scheduler, idleEvery });
}

/**
 * V8 heap in use, in MiB: the old name and parameters of {@link overload!heapUsedMiB}.
 *
 * @deprecated Use heapUsedMiB({ every, scheduler, collectAbove }) instead; removed in 0.3.
 *
 * @example
 * heapUsed(100, undefined, 800); // now: heapUsedMiB({ every: 100, collectAbove: 800 })
 *
 * @param every The period, ms. Default 1000.
 * @param scheduler Where periods are timed. Default `asyncScheduler`.
 * @param collectAbove MiB. Default `Infinity` (never collect).
 * @returns Cold: it runs only while subscribed.
 */
export function heapUsed(every?: number, scheduler?: SchedulerLike, collectAbove?: number): Observable<number> {
  return heapUsedAs({ name: 'heapUsed', positional: true }, { every, scheduler, collectAbove });
}

/**
 * Resident memory of the process, in MiB: the old name and parameters of {@link overload!rssMiB}.
 *
 * @deprecated Use rssMiB({ every, scheduler, collectAbove }) instead; removed in 0.3.
 *
 * @example
 * rss(1000, undefined, 1600); // now: rssMiB({ every: 1000, collectAbove: 1600 })
 *
 * @param every The period, ms. Default 1000.
 * @param scheduler Where periods are timed. Default `asyncScheduler`.
 * @param collectAbove MiB. Default `Infinity` (never collect).
 * @returns Cold: it runs only while subscribed.
 */
export function rss(every?: number, scheduler?: SchedulerLike, collectAbove?: number): Observable<number> {
  return rssAs({ name: 'rss', positional: true }, { every, scheduler, collectAbove });
}

/**
 * What one exchange costs the event loop, in ms: the old name and parameters of serviceTimeMs.
 *
 * It forwards to {@link overload!serviceTimeMs}.
 *
 * @deprecated Use serviceTimeMs(limiter, { every, scheduler, idleEvery }) instead; removed in 0.3.
 *
 * @example
 * serviceTime(limiter); // now: serviceTimeMs(limiter)
 *
 * @param limiter Whose completed exchanges to count.
 * @param every The window under load, ms. Default 100.
 * @param scheduler Where windows are timed. Default `asyncScheduler`.
 * @param idleEvery The window while at most half busy, ms. Default 500, or `every` if longer.
 * @returns Cold: it runs only while subscribed.
 */
export function serviceTime(limiter: Limiter, every?: number, scheduler?: SchedulerLike, idleEvery?: number): Observable<number> {
  return serviceTimeAs({ name: 'serviceTime', positional: true }, limiter, { every, scheduler, idleEvery });
}
