import type { HistogramData } from '../util/histogram';
import type { AcceptStats } from './metrics';

/** What the balancer side knows of the loop (`LoopStatus.state`), as far as metrics read it. */
export interface StateReading {
  /** `accepting`, `paused`, `draining` or `stopped`. */
  readonly phase: string;
  /** The event loop's busy share, 0 to 1, over the last window. */
  readonly busy: number;
  /** The share of capacity free, 0 to 1 (0 unless accepting). */
  readonly headroom: number;
}

/** One reading of the loop: its counts, and its state where a `LoopStatus` is at hand. */
export type Reading = { readonly stats: AcceptStats; readonly state?: StateReading };

/** One value of a metric, with its labels. */
type Sample = { readonly labels?: Readonly<Record<string, string>>; readonly value: number };

/** One metric, as every exporter (`toPrometheus`, `collectMetrics`, `observeMetrics`) reads it from this one list. */
export interface MetricFamily {
  /** The Prometheus name after the prefix (`accepted_total`), and the OpenTelemetry one after `rxjs_listen.` (`connections.accepted`). */
  readonly name: string;
  readonly otel: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  /** UCUM, as OpenTelemetry writes it: `{connection}`, `s`, `1`. */
  readonly unit: string;
  readonly help: string;
  /** The label names its samples carry (empty: one unlabelled sample). */
  readonly labels: readonly string[];
  /** Its samples in a reading; a labelled metric's known series there from the start, at 0. None for a histogram. */
  read(reading: Reading): readonly Sample[];
  histogram?(reading: Reading): HistogramData;
}

/** A histogram's samples as Prometheus names them: `_bucket{le}` (cumulative, `+Inf` last), `_sum`, `_count`. */
export function histogramSamples(name: string, { bounds, buckets, sum, count }: HistogramData): { metricName: string; labels: Record<string, string>; value: number }[] {
  return [
    ...bounds.map((bound, i) => ({ metricName: `${name}_bucket`, labels: { le: String(bound) }, value: buckets[i]! })),
    { metricName: `${name}_bucket`, labels: { le: '+Inf' }, value: count },
    { metricName: `${name}_sum`, labels: {}, value: sum },
    { metricName: `${name}_count`, labels: {}, value: count },
  ];
}

const one = (value: number): Sample[] => [{ value }];
/** Why connections were refused at once, as the `reason` label says it, and where each is counted. */
const DROPPED = { limit: 'dropped', per_peer: 'droppedPerPeer', per_peer_rate: 'droppedPerPeerRate', shed: 'droppedHeaviest' } as const;
/** Pause reasons present from the start (others, `pressure:NAME`, `batch`, ..., once they happen). */
const KNOWN_PAUSES = ['shortage', 'limit'];
const PHASES = ['accepting', 'paused', 'draining', 'stopped'];
const pauseSamples = (stats: AcceptStats, read: (total: { count: number; seconds: number }) => number): Sample[] => {
  const reasons = new Set([...KNOWN_PAUSES, ...Object.keys(stats.pauseTotals)]);
  return [...reasons].map((reason) => ({ labels: { reason }, value: read(stats.pauseTotals[reason] ?? { count: 0, seconds: 0 }) }));
};

/** Every metric of the loop. */
export const METRICS: readonly MetricFamily[] = [
  { name: 'accepted_total', otel: 'connections.accepted', type: 'counter', unit: '{connection}', help: 'Connections accepted.', labels: [], read: ({ stats: s }) => one(s.accepted) },
  { name: 'connection_errors_total', otel: 'accept.errors', type: 'counter', unit: '{error}', help: 'Per-connection accept errors skipped.', labels: [], read: ({ stats: s }) => one(s.connectionErrors) },
  { name: 'shortages_total', otel: 'accept.shortages', type: 'counter', unit: '{error}', help: 'Resource shortages (EMFILE, ENFILE, ENOBUFS, ENOMEM, failed resumes).', labels: [], read: ({ stats: s }) => one(s.shortages) },
  {
    name: 'dropped_total', otel: 'connections.dropped', type: 'counter', unit: '{connection}', labels: ['reason'],
    help: 'Connections refused at once, by reason: limit (the limit and the queue full), per_peer, per_peer_rate, shed (their address brought most of the new ones under overload).',
    read: ({ stats: s }) => Object.entries(DROPPED).map(([reason, count]) => ({ labels: { reason }, value: s[count] })),
  },
  { name: 'refused_total', otel: 'connections.refused', type: 'counter', unit: '{connection}', help: 'Connections a pause took from the accept queue and answered (503) instead of serving.', labels: [], read: ({ stats: s }) => one(s.refused) },
  { name: 'shed_requests_total', otel: 'requests.shed', type: 'counter', unit: '{request}', help: 'Requests answered 503 at once because the process was overloaded (the connection kept).', labels: [], read: ({ stats: s }) => one(s.shedRequests) },
  { name: 'queued_total', otel: 'connections.queued', type: 'counter', unit: '{connection}', help: 'Connections that had to wait for a slot.', labels: [], read: ({ stats: s }) => one(s.queued) },
  { name: 'admitted_from_queue_total', otel: 'connections.admitted_from_queue', type: 'counter', unit: '{connection}', help: 'Connections admitted after waiting.', labels: [], read: ({ stats: s }) => one(s.admittedFromQueue) },
  { name: 'queue_timeouts_total', otel: 'connections.queue_timeouts', type: 'counter', unit: '{connection}', help: 'Connections that waited too long and were answered 503.', labels: [], read: ({ stats: s }) => one(s.queueTimeouts) },
  { name: 'queue_gave_up_total', otel: 'connections.queue_gave_up', type: 'counter', unit: '{connection}', help: 'Connections whose client gave up while waiting.', labels: [], read: ({ stats: s }) => one(s.gaveUp) },
  { name: 'reclaimed_total', otel: 'connections.reclaimed', type: 'counter', unit: '{connection}', help: 'Idle keep-alive connections closed to admit a waiting one.', labels: [], read: ({ stats: s }) => one(s.reclaimed) },
  { name: 'completed_total', otel: 'exchanges.completed', type: 'counter', unit: '{exchange}', help: 'Exchanges completed.', labels: [], read: ({ stats: s }) => one(s.completed) },
  { name: 'pauses_total', otel: 'pauses', type: 'counter', unit: '{pause}', help: 'Pauses of accepting, by reason (shortage, limit, pressure:NAME, batch, retry).', labels: ['reason'], read: ({ stats: s }) => pauseSamples(s, (t) => t.count) },
  { name: 'paused_seconds_total', otel: 'paused.time', type: 'counter', unit: 's', help: 'Time accepting was paused, by reason (reasons that overlap each count).', labels: ['reason'], read: ({ stats: s }) => pauseSamples(s, (t) => t.seconds) },
  { name: 'queue_wait_seconds', otel: 'queue.wait', type: 'histogram', unit: 's', help: 'How long the connections admitted from the queue waited there.', labels: [], read: () => [], histogram: ({ stats: s }) => s.queueWait },
  { name: 'waiting_connections', otel: 'connections.waiting', type: 'gauge', unit: '{connection}', help: 'Connections waiting for a slot.', labels: [], read: ({ stats: s }) => one(s.waiting) },
  { name: 'live_connections', otel: 'connections.live', type: 'gauge', unit: '{connection}', help: 'Live connections.', labels: [], read: ({ stats: s }) => one(s.live) },
  { name: 'connection_limit', otel: 'connections.limit', type: 'gauge', unit: '{connection}', help: 'The connection limit in force.', labels: [], read: ({ stats: s }) => one(s.limit) },
  { name: 'queue_size', otel: 'connections.queue_size', type: 'gauge', unit: '{connection}', help: 'How many connections may wait.', labels: [], read: ({ stats: s }) => one(s.queueSize) },
  { name: 'exchanges_in_flight', otel: 'exchanges.in_flight', type: 'gauge', unit: '{exchange}', help: 'Exchanges in flight: requests begun and not yet answered.', labels: [], read: ({ stats: s }) => one(s.inFlight) },
  { name: 'exchange_limit', otel: 'exchanges.limit', type: 'gauge', unit: '{exchange}', help: 'The most exchanges in flight (learned from CPU); +Inf: none.', labels: [], read: ({ stats: s }) => one(s.exchangeLimit) },
  { name: 'paused', otel: 'paused', type: 'gauge', unit: '1', help: '1 while accepting is paused.', labels: [], read: ({ stats: s }) => one(s.paused ? 1 : 0) },
  { name: 'paused_by', otel: 'paused.by', type: 'gauge', unit: '1', help: '1 for each reason holding the listener paused now.', labels: ['reason'], read: ({ stats: s }) => [...new Set(s.pauses)].map((reason) => ({ labels: { reason }, value: 1 })) },
  {
    name: 'idle_connections', otel: 'connections.idle', type: 'gauge', unit: '{connection}', help: 'Live connections between exchanges, by protocol.', labels: ['protocol'],
    read: ({ stats: s }) => Object.entries(s.idleByProtocol).map(([protocol, value]) => ({ labels: { protocol }, value })),
  },
  // From the loop's state, where a LoopStatus is at hand (the health port, listenAndServe's handle).
  { name: 'phase', otel: 'phase', type: 'gauge', unit: '1', help: '1 for the phase the loop is in (accepting, paused, draining, stopped), 0 for the others.', labels: ['phase'], read: ({ state }) => (state === undefined ? [] : PHASES.map((phase) => ({ labels: { phase }, value: state.phase === phase ? 1 : 0 }))) },
  { name: 'event_loop_busy_ratio', otel: 'event_loop.busy', type: 'gauge', unit: '1', help: 'The share of time the event loop was busy, over the last window (about a second).', labels: [], read: ({ state }) => (state === undefined ? [] : one(state.busy)) },
  { name: 'headroom_ratio', otel: 'headroom', type: 'gauge', unit: '1', help: 'The share of capacity free (connection and exchange limits, event loop), 0 unless accepting: what the agent check weighs.', labels: [], read: ({ state }) => (state === undefined ? [] : one(state.headroom)) },
];
