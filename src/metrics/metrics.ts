import { asyncScheduler, interval, map, startWith, tap, type MonoTypeOperatorFunction, type Observable, type SchedulerLike } from 'rxjs';
import { classifyFailure } from '../errors/classify';
import type { Limiter } from '../limit/limiter';
import type { AcceptResult, ListenerControl } from '../errors/result';
import { checkInteger } from '../util/validate';

/** What {@link Metrics.snapshot} reports. */
export interface AcceptStats {
  /** Connections accepted by the listener. */
  readonly accepted: number;
  /** Per-connection accept errors, skipped. */
  readonly connectionErrors: number;
  /** Resource shortages (EMFILE, ..., failures to listen again). */
  readonly shortages: number;
  /** Live connections (tokens); 0 without a limiter (as every limiter figure below). */
  readonly live: number;
  /** The connection limit in force (learned, with {@link targetLimit}). */
  readonly limit: number;
  /** How many connections may wait (learned, with {@link targetLimit}). */
  readonly queueSize: number;
  /** Exchanges completed ({@link Limiter.completed}). */
  readonly completed: number;
  /** Connections closed at once over the limit. */
  readonly dropped: number;
  /** Connections closed at once over the per-peer limit. */
  readonly droppedPerPeer: number;
  /** Connections waiting for a slot now. */
  readonly waiting: number;
  /** Connections that have had to wait, in all. */
  readonly queued: number;
  /** Connections admitted after waiting. */
  readonly admittedFromQueue: number;
  /** Connections that waited too long and were ended (`onQueueTimeout`). */
  readonly queueTimeouts: number;
  /** Connections whose client gave up while waiting. */
  readonly gaveUp: number;
  /** Idle keep-alive connections closed to admit a waiting one. */
  readonly reclaimed: number;
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
      queueSize: this.limiter?.queueSize ?? 0,
      completed: this.limiter?.completed ?? 0,
      dropped: this.limiter?.dropped ?? 0,
      droppedPerPeer: this.limiter?.droppedPerPeer ?? 0,
      waiting: this.limiter?.waiting ?? 0,
      queued: this.limiter?.queued ?? 0,
      admittedFromQueue: this.limiter?.admittedFromQueue ?? 0,
      queueTimeouts: this.limiter?.queueTimeouts ?? 0,
      gaveUp: this.limiter?.gaveUp ?? 0,
      reclaimed: this.limiter?.reclaimed ?? 0,
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
  metric('queued_total', 'counter', 'Connections that had to wait for a slot.', stats.queued);
  metric('admitted_from_queue_total', 'counter', 'Connections admitted after waiting.', stats.admittedFromQueue);
  metric('queue_timeouts_total', 'counter', 'Connections that waited too long and were ended.', stats.queueTimeouts);
  metric('queue_gave_up_total', 'counter', 'Connections whose client gave up while waiting.', stats.gaveUp);
  metric('reclaimed_total', 'counter', 'Idle keep-alive connections closed to admit a waiting one.', stats.reclaimed);
  metric('completed_total', 'counter', 'Exchanges completed.', stats.completed);
  metric('waiting_connections', 'gauge', 'Connections waiting for a slot.', stats.waiting);
  metric('live_connections', 'gauge', 'Live connections.', stats.live);
  metric('connection_limit', 'gauge', 'The connection limit in force.', stats.limit);
  metric('queue_size', 'gauge', 'How many connections may wait.', stats.queueSize);
  metric('paused', 'gauge', '1 while accepting is paused.', stats.paused ? 1 : 0);
  // One series per reason holding the listener paused now (`limit`, `shortage`, `pressure:NAME`).
  const reasons = [...new Set(stats.pauses)];
  if (reasons.length > 0) {
    lines.push(`# HELP ${prefix}paused_by 1 for each reason holding the listener paused.`, `# TYPE ${prefix}paused_by gauge`);
    for (const reason of reasons) lines.push(`${prefix}paused_by{reason="${reason.replace(/["\\\n]/g, '_')}"} 1`);
  }
  return `${lines.join('\n')}\n`;
}
