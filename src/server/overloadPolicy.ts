import type { Observable } from 'rxjs';
import type { Limiter } from '../limit/limiter';
import type { Pressure } from '../operators/pauseUnderPressure';
import { adaptiveLimit } from '../overload/adaptiveLimit';
import { acceptQueueMs } from '../overload/monitors/acceptQueue';
import { eventLoopUtilization } from '../overload/monitors/eventLoopUtilization';
import { heapUsedMiB, rssMiB } from '../overload/monitors/memory';
import { serviceTimeMs } from '../overload/monitors/serviceTime';
import { targetLimit } from '../overload/targetLimit';

/** The thresholds {@link overloadPolicy} turns into pauses and learned limits. */
export interface OverloadThresholds {
  /** The longest an admitted request should wait for the event loop, ms; 0: no CPU shedding. */
  maxLagMs: number;
  /** Event-loop utilization (0 to 1] to pause above. */
  maxElu?: number;
  /** V8 heap used, MiB, to pause above. */
  maxHeapMb?: number;
  /** Resident memory, MiB, to pause above. */
  maxRssMb?: number;
}

/** What the policy asks of the loop: the Limiter's per-request bound, the pauses, the learners. */
export interface OverloadPolicy {
  /** The Limiter's `maxWaitMs`: a request the loop reaches later than this into a busy turn is answered 503. */
  maxWaitMs: number | undefined;
  /** listen's `keepNewest`: how much of a pause's accept queue is kept as work. */
  keepNewest: { ms: number; holdMs: number } | undefined;
  /** Pauses on memory: before anything else reads the connection (whoever sends it, what is admitted allocates). */
  memory: Pressure[];
  /** Pauses on CPU: after the PROXY header, so that the heaviest clients are told apart by their own addresses. */
  cpu: Pressure[];
  /** The limits the loop learns while it runs (subscribed with it), for its limiter. */
  learners(limiter: Limiter): Observable<number>[];
}

/**
 * The overload policy measured in bench/RESULTS.md (section 17): per request first, then per
 * connection, and the kernel's free refusal last.
 *
 * With `maxLagMs` T: a request the loop reaches more than T/3 into a busy turn is answered `503`,
 * its connection kept (so served ones wait about 2T/3 at most; short turns keep a keep-alive
 * connection's round trip short); no more exchanges in flight than the process finishes within
 * T (`targetLimit` from `serviceTimeMs`: idle keep-alive connections are not counted); and a
 * kernel accept queue that held a connection at every turn for T/2 (Node takes one a turn)
 * pauses the listener: the queue emptied first (its newest T/2 worth kept as a batch, the rest
 * answered `503` once the socket is closed), the listener held closed while the batch is served,
 * so later clients are refused by the kernel at once instead of served late. (A quarter of T
 * answered failures sooner but paused on a mere burst of 100 connects.)
 *
 * `maxElu` pauses on a 20 ms window of utilization (a saturated loop lets the accept queue fill,
 * so the sooner the pause, the shorter the waits). Memory is read every 100 ms (heap) and 1 s
 * (RSS): a handler that allocates can grow the heap by hundreds of MiB a second, past V8's limit
 * before a 1 s sample would see it; a still reading above the resume mark is taken after a
 * garbage collection (paused, nothing allocates, so V8 would not collect what finished requests
 * left). Without `maxLagMs`, the connection limit follows the heap too (halved while above the
 * resume mark): those admitted in a burst at the resume would each allocate at once. With it, the
 * limit is learned from CPU instead: two learners would overwrite each other.
 *
 * @param thresholds The thresholds, checked by the caller.
 * @returns What the limiter, the loop and the listener need.
 */
export function overloadPolicy(thresholds: OverloadThresholds): OverloadPolicy {
  const { maxLagMs, maxElu, maxHeapMb, maxRssMb } = thresholds;
  const cpu: Pressure[] = [];
  const memory: Pressure[] = [];
  const queueMs = Math.max(1, Math.round(maxLagMs / 2));
  if (maxLagMs > 0) cpu.push({ name: 'acceptQueue', samples: acceptQueueMs(5), above: queueMs, below: 0, unit: 'ms' });
  if (maxElu !== undefined) cpu.push({ name: 'eventLoopUtilization', samples: eventLoopUtilization(20), above: maxElu });
  const heap = maxHeapMb === undefined ? undefined : heapUsedMiB({ every: 100, collectAbove: maxHeapMb * 0.8 });
  if (heap !== undefined) memory.push({ name: 'heapUsed', samples: heap, above: maxHeapMb!, unit: 'MiB' });
  if (maxRssMb !== undefined) memory.push({ name: 'rss', samples: rssMiB({ every: 1000, collectAbove: maxRssMb * 0.8 }), above: maxRssMb, unit: 'MiB' });
  return {
    maxWaitMs: maxLagMs > 0 ? Math.max(1, Math.round(maxLagMs / 3)) : undefined,
    keepNewest: maxLagMs > 0 ? { ms: queueMs, holdMs: maxLagMs } : undefined,
    memory,
    cpu,
    learners: (limiter) => {
      if (maxLagMs > 0) return [targetLimit(limiter, serviceTimeMs(limiter), { target: maxLagMs })];
      return heap === undefined ? [] : [adaptiveLimit(limiter, heap, { target: maxHeapMb! * 0.8, decrease: 0.5 })];
    },
  };
}
