import { asyncScheduler, interval, map, startWith, tap, type MonoTypeOperatorFunction, type Observable, type SchedulerLike } from 'rxjs';
import { classifyFailure } from './classify';
import type { Limiter } from './limiter';
import type { AcceptResult, ListenerControl } from './result';
import { checkInteger } from './validate';

/** What {@link Metrics.snapshot} reports. */
export interface AcceptStats {
  /** Connections accepted by the listener. */
  readonly accepted: number;
  /** Per-connection accept errors, skipped. */
  readonly connectionErrors: number;
  /** Resource shortages (EMFILE, ..., failures to listen again). */
  readonly shortages: number;
  /** Live connections (tokens), the limit, and those closed at once over it; 0 without a limiter. */
  readonly live: number;
  /** The connection limit in force. */
  readonly limit: number;
  /** Connections closed at once over the limit. */
  readonly dropped: number;
  /** Connections closed at once over the per-peer limit. */
  readonly droppedPerPeer: number;
  /** Whether the listener is paused, and why (`'shortage'`, `'limit'`, ...). */
  readonly paused: boolean;
  /** The reasons holding it paused. */
  readonly pauses: readonly string[];
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
  #listener: ListenerControl | undefined;

  /** @param limiter The limiter whose live count and drops to report, if any. */
  constructor(private readonly limiter?: Limiter) {}

  /** An operator that counts the results passing through; place it right after the listener. */
  count(): MonoTypeOperatorFunction<AcceptResult> {
    return tap((result) => {
      this.#listener = result.listener;
      if (result.type === 'connection') this.#accepted++;
      else if (classifyFailure(result) === 'connection') this.#connectionErrors++;
      else this.#shortages++;
    });
  }

  /** The counters now. */
  snapshot(): AcceptStats {
    const pauses = this.#listener?.pauses ?? [];
    return {
      accepted: this.#accepted,
      connectionErrors: this.#connectionErrors,
      shortages: this.#shortages,
      live: this.limiter?.active ?? 0,
      limit: this.limiter?.limit ?? 0,
      dropped: this.limiter?.dropped ?? 0,
      droppedPerPeer: this.limiter?.droppedPerPeer ?? 0,
      paused: pauses.length > 0,
      pauses,
    };
  }

  /**
   * A snapshot now and every `ms` after.
   *
   * @param ms The period, an integer >= 1.
   * @param scheduler Where the period is timed. Default `asyncScheduler`.
   */
  every(ms: number, scheduler: SchedulerLike = asyncScheduler): Observable<AcceptStats> {
    checkInteger('Metrics.every: ms', ms, 1);
    return interval(ms, scheduler).pipe(
      startWith(0),
      map(() => this.snapshot()),
    );
  }
}

/**
 * The stats in Prometheus' text exposition format, for a `/metrics` endpoint.
 *
 * @param stats A snapshot.
 * @param prefix Metric name prefix. Default `rxjs_listen_`.
 */
export function toPrometheus(stats: AcceptStats, prefix = 'rxjs_listen_'): string {
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number): void => {
    lines.push(`# HELP ${prefix}${name} ${help}`, `# TYPE ${prefix}${name} ${type}`, `${prefix}${name} ${value}`);
  };
  metric('accepted_total', 'counter', 'Connections accepted.', stats.accepted);
  metric('connection_errors_total', 'counter', 'Per-connection accept errors skipped.', stats.connectionErrors);
  metric('shortages_total', 'counter', 'Resource shortages (EMFILE, ENFILE, ENOBUFS, ENOMEM, failed resumes).', stats.shortages);
  metric('dropped_total', 'counter', 'Connections closed at once over the limit.', stats.dropped);
  metric('dropped_per_peer_total', 'counter', 'Connections closed at once over the per-peer limit.', stats.droppedPerPeer);
  metric('live_connections', 'gauge', 'Live connections.', stats.live);
  metric('connection_limit', 'gauge', 'The connection limit in force.', stats.limit);
  metric('paused', 'gauge', '1 while accepting is paused.', stats.paused ? 1 : 0);
  return `${lines.join('\n')}\n`;
}
