import { show } from '../util/validate';
import type { AcceptStats } from './metrics';

/** What Prometheus allows a metric name to be made of (its data model): so a prefix too, or empty. */
const METRIC_NAME_PREFIX = /^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/;

/**
 * The stats in Prometheus' text exposition format, for a `/metrics` endpoint.
 *
 * @param stats A snapshot.
 * @param prefix Metric name prefix: letters, digits, `_` and `:`, not starting with a digit. Default `rxjs_listen_`.
 * @throws {TypeError} When `stats` is not a snapshot (say, the {@link Metrics} itself) or `prefix` not a string.
 * @throws {RangeError} When `prefix` would make invalid metric names (`'my-app '`): Prometheus would refuse the whole page.
 */
export function toPrometheus(stats: AcceptStats, prefix = 'rxjs_listen_'): string {
  if (typeof (stats as Partial<AcceptStats> | null)?.accepted !== 'number') throw new TypeError(`toPrometheus: stats must be a snapshot (metrics.snapshot()), got ${show(stats)}`);
  if (typeof prefix !== 'string') throw new TypeError(`toPrometheus: prefix must be a string, got ${show(prefix)}`);
  if (!METRIC_NAME_PREFIX.test(prefix)) throw new RangeError(`toPrometheus: prefix must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${show(prefix)}`);
  const lines: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number): void => {
    lines.push(`# HELP ${prefix}${name} ${help}`, `# TYPE ${prefix}${name} ${type}`, `${prefix}${name} ${value === Infinity ? '+Inf' : value}`);
  };
  metric('accepted_total', 'counter', 'Connections accepted.', stats.accepted);
  metric('connection_errors_total', 'counter', 'Per-connection accept errors skipped.', stats.connectionErrors);
  metric('shortages_total', 'counter', 'Resource shortages (EMFILE, ENFILE, ENOBUFS, ENOMEM, failed resumes).', stats.shortages);
  metric('dropped_total', 'counter', 'Connections closed at once over the limit.', stats.dropped);
  metric('dropped_per_peer_total', 'counter', 'Connections closed at once over the per-peer limit.', stats.droppedPerPeer);
  metric('dropped_per_peer_rate_total', 'counter', 'Connections closed at once over the per-peer connection rate.', stats.droppedPerPeerRate);
  metric('dropped_heaviest_total', 'counter', 'Connections closed at once under overload because their address brought most of the new ones.', stats.droppedHeaviest);
  metric('queued_total', 'counter', 'Connections that had to wait for a slot.', stats.queued);
  metric('admitted_from_queue_total', 'counter', 'Connections admitted after waiting.', stats.admittedFromQueue);
  metric('queue_timeouts_total', 'counter', 'Connections that waited too long and were ended.', stats.queueTimeouts);
  metric('queue_gave_up_total', 'counter', 'Connections whose client gave up while waiting.', stats.gaveUp);
  metric('reclaimed_total', 'counter', 'Idle keep-alive connections closed to admit a waiting one.', stats.reclaimed);
  metric('shed_requests_total', 'counter', 'Requests answered 503 at once because the process was overloaded (the connection kept).', stats.shedRequests);
  metric('completed_total', 'counter', 'Exchanges completed.', stats.completed);
  metric('waiting_connections', 'gauge', 'Connections waiting for a slot.', stats.waiting);
  metric('live_connections', 'gauge', 'Live connections.', stats.live);
  metric('connection_limit', 'gauge', 'The connection limit in force.', stats.limit);
  metric('queue_size', 'gauge', 'How many connections may wait.', stats.queueSize);
  metric('exchanges_in_flight', 'gauge', 'Exchanges in flight: requests begun and not yet answered.', stats.inFlight);
  // Prometheus writes an unbounded limit as +Inf.
  metric('exchange_limit', 'gauge', 'The most exchanges in flight (learned from CPU); +Inf: none.', stats.exchangeLimit);
  metric('paused', 'gauge', '1 while accepting is paused.', stats.paused ? 1 : 0);
  // One series per protocol with idle connections now.
  const protocols = Object.keys(stats.idleByProtocol);
  if (protocols.length > 0) {
    lines.push(`# HELP ${prefix}idle_connections Live connections between exchanges, by protocol.`, `# TYPE ${prefix}idle_connections gauge`);
    for (const protocol of protocols) lines.push(`${prefix}idle_connections{protocol="${label(protocol)}"} ${stats.idleByProtocol[protocol]}`);
  }
  // One series per reason holding the listener paused now (`limit`, `shortage`, `pressure:NAME`).
  const reasons = [...new Set(stats.pauses)];
  if (reasons.length > 0) {
    lines.push(`# HELP ${prefix}paused_by 1 for each reason holding the listener paused.`, `# TYPE ${prefix}paused_by gauge`);
    for (const reason of reasons) lines.push(`${prefix}paused_by{reason="${label(reason)}"} 1`);
  }
  return `${lines.join('\n')}\n`;
}

/** A label value with the characters Prometheus would need escaped replaced. */
function label(value: string): string {
  return value.replace(/["\\\n]/g, '_');
}
