import { asyncScheduler, interval, map, startWith, tap, type MonoTypeOperatorFunction, type Observable, type SchedulerLike } from 'rxjs';
import { classifyFailure } from '../errors/classify';
import { Counts, type LimiterCounts } from '../limit/counts';
import { Limiter } from '../limit/limiter';
import type { AcceptResult, ListenerControl } from '../errors/result';
import { copyOf } from '../util/histogram';
import { checkInstance, checkInteger, checkScheduler } from '../util/validate';

/** What {@link Metrics.snapshot} reports: the listener's counts, then the limiter's figures ({@link index!LimiterCounts}). */
export interface AcceptStats extends LimiterCounts {
  /** Connections accepted by the listener. */
  readonly accepted: number;
  /** Per-connection accept errors, skipped. */
  readonly connectionErrors: number;
  /** Resource shortages (EMFILE, ..., failures to listen again). */
  readonly shortages: number;
  /** Live connections (tokens); 0 without a limiter (as every limiter figure below). */
  readonly live: number;
  /** The connection limit in force. */
  readonly limit: number;
  /** How many connections may wait. */
  readonly queueSize: number;
  /** Exchanges in flight now ({@link index!Limiter.inFlight}). */
  readonly inFlight: number;
  /** The most exchanges in flight (learned, with {@link overload!targetLimit}); `Infinity`: no bound. */
  readonly exchangeLimit: number;
  /** Connections waiting for a slot now. */
  readonly waiting: number;
  /** Live connections between exchanges now, by protocol (`{ 'http/1.1': 3, h2: 1 }`) ({@link index!Limiter.idleByProtocol}). */
  readonly idleByProtocol: Readonly<Record<string, number>>;
  /** Whether a listener is paused (any of them, where several feed the loop). */
  readonly paused: boolean;
  /** The reasons holding the listeners paused (`'shortage'`, `'limit'`, `'pressure:NAME'`, ...), each once. */
  readonly pauses: readonly string[];
  /** Per reason ever held: how many pauses, and how long they lasted in all, in seconds (listeners summed). */
  readonly pauseTotals: Readonly<Record<string, PauseSeconds>>;
  /** Connections a pause took from the accept queue and answered instead of serving ({@link index!ListenerControl.refused}, listeners summed). */
  readonly refused: number;
}

/** A pause reason's totals in {@link AcceptStats.pauseTotals}. */
export interface PauseSeconds {
  /** Pauses for this reason. */
  readonly count: number;
  /** How long they lasted in all, seconds. */
  readonly seconds: number;
}

/**
 * Live counters of an accept loop, for a stats line, a health check or a metrics exporter.
 * Connections refused while paused are not counted: the kernel refuses them, the process
 * never sees them (that is why pausing costs no CPU); `paused` and `pauses` say when it happens.
 *
 * @example
 * const metrics = new Metrics(limiter);
 * listen({ port: 8080 }).pipe(metrics.count(), handleErrors(), backpressure(limiter), serve(handle)).subscribe();
 * metrics.every(1000).subscribe((s) => console.error(`live=${s.live}/${s.limit} paused=${s.paused}`));
 */
export class Metrics {
  #accepted = 0;
  #connectionErrors = 0;
  #shortages = 0;
  // Every listener whose results were counted (usually one), and the last, to skip the Set.
  readonly #listeners = new Set<ListenerControl>();
  #lastListener: ListenerControl | undefined;

  /** @param limiter The limiter whose live count, queue and counts to report, if any. */
  constructor(private readonly limiter?: Limiter) {
    if (limiter !== undefined) checkInstance('Metrics: limiter', limiter, Limiter);
  }

  /** An operator that counts the results passing through; place it right after the listener. */
  count(): MonoTypeOperatorFunction<AcceptResult> {
    return tap((result) => {
      if (result.listener !== this.#lastListener) this.#listeners.add((this.#lastListener = result.listener));
      if (result.type === 'connection') this.#accepted++;
      else if (classifyFailure(result) === 'connection') this.#connectionErrors++;
      else this.#shortages++;
    });
  }

  /** The counters now. */
  snapshot(): AcceptStats {
    const pauses = new Set<string>();
    const pauseTotals: Record<string, { count: number; seconds: number }> = {};
    let refused = 0;
    for (const listener of this.#listeners) {
      for (const reason of listener.pauses) pauses.add(reason);
      for (const [reason, { count, ms }] of listener.pauseTotals()) {
        const total = (pauseTotals[reason] ??= { count: 0, seconds: 0 });
        total.count += count;
        total.seconds += ms / 1000;
      }
      refused += listener.refused;
    }
    const limiter = this.limiter;
    const counts = limiter?.counts ?? new Counts(); // a loop without a limiter counts none of these
    return {
      accepted: this.#accepted,
      connectionErrors: this.#connectionErrors,
      shortages: this.#shortages,
      live: limiter?.live ?? 0,
      limit: limiter?.limit ?? 0,
      queueSize: limiter?.queueSize ?? 0,
      inFlight: limiter?.inFlight ?? 0,
      exchangeLimit: limiter?.exchangeLimit ?? Infinity,
      waiting: limiter?.waiting ?? 0,
      idleByProtocol: limiter?.idleByProtocol ?? {},
      ...counts,
      queueWait: copyOf(counts.queueWait),
      paused: pauses.size > 0,
      pauses: [...pauses],
      pauseTotals,
      refused,
    };
  }

  /** A snapshot now and every `ms` (an integer >= 1) after, timed on `scheduler`. */
  every(ms: number, scheduler: SchedulerLike = asyncScheduler): Observable<AcceptStats> {
    checkInteger('Metrics.every: ms', ms, 1);
    checkScheduler('Metrics.every: scheduler', scheduler);
    return interval(ms, scheduler).pipe(startWith(0), map(() => this.snapshot()));
  }
}
