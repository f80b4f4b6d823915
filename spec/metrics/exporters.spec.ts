/* Where the loop's metrics go: Prometheus text, a real prom-client registry, a real
 * OpenTelemetry SDK (its in-memory reader). One catalog feeds the three: the same names, the
 * labelled series present from the start at 0, pauses counted and timed. */
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { concat, NEVER, of, VirtualTimeScheduler } from 'rxjs';
import { accepted, fakeSocket, FakeListener } from '../marbles';
import { backpressure, handleErrors, Limiter, type AcceptResult } from '../../src';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectMetrics, Metrics, observeMetrics, toPrometheus } from '../../src/metrics';
import { METRICS } from '../../src/metrics/catalog';

/** A loop with one connection admitted, one refused at the limit, and a pause of 'limit' held and released. */
function loop() {
  const listener = new FakeListener(() => 0);
  const limiter = new Limiter(1, { queueSize: 0 });
  const metrics = new Metrics(limiter);
  concat(of<AcceptResult[]>(accepted(listener), accepted(listener, fakeSocket('127.0.0.9'))), NEVER).pipe(metrics.count(), handleErrors(), backpressure(limiter)).subscribe();
  return { listener, limiter, metrics };
}

describe('toPrometheus', () => {
  it('writes one dropped_total with a reason label, the pauses by reason, and every labelled series from the start', () => {
    const fresh = toPrometheus(new Metrics().snapshot());
    for (const reason of ['limit', 'per_peer', 'per_peer_rate', 'shed']) expect(fresh).toContain(`rxjs_listen_dropped_total{reason="${reason}"} 0\n`);
    expect(fresh).toContain('rxjs_listen_pauses_total{reason="shortage"} 0\nrxjs_listen_pauses_total{reason="limit"} 0\n');
    expect(fresh).toContain('# TYPE rxjs_listen_paused_seconds_total counter\n');
    expect(fresh).not.toMatch(/dropped_per_peer_total|dropped_heaviest_total/); // one name, a label each

    const { metrics } = loop();
    const text = toPrometheus(metrics.snapshot());
    expect(text).toContain('rxjs_listen_dropped_total{reason="limit"} 1\n');
    expect(text).toContain('rxjs_listen_pauses_total{reason="limit"} 1\n'); // the limit paused the listener once, still held
    expect(text).toMatch(/^rxjs_listen_paused_seconds_total\{reason="limit"\} \d/m);
    expect(text).toContain('rxjs_listen_paused_by{reason="limit"} 1\n');
    // Every line is a comment or `name{labels} value`.
    for (const line of text.trimEnd().split('\n')) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|[a-z_:]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (\d+(\.\d+)?(e-?\d+)?|\+Inf))$/);
  });
});

describe('the queue wait histogram', () => {
  it('counts how long each connection admitted from the queue waited, in seconds, written as Prometheus buckets by both exporters', async () => {
    const scheduler = new VirtualTimeScheduler();
    const limiter = new Limiter(1, { scheduler, queueTimeout: Infinity });
    const metrics = new Metrics(limiter);
    const listener = new FakeListener(() => scheduler.now());
    const [first, second] = [fakeSocket(), fakeSocket()];
    concat(of<AcceptResult[]>(accepted(listener, first), accepted(listener, second)), NEVER).pipe(metrics.count(), handleErrors(), backpressure(limiter)).subscribe();
    scheduler.schedule(() => first.destroy(), 300); // the second waited 300 ms for the first's slot
    scheduler.flush();
    const { queueWait } = metrics.snapshot();
    expect(queueWait).toMatchObject({ count: 1, sum: 0.3 });
    expect(queueWait.buckets[queueWait.bounds.indexOf(0.25)]).toBe(0);
    expect(queueWait.buckets[queueWait.bounds.indexOf(0.5)]).toBe(1);
    const text = toPrometheus(metrics.snapshot());
    expect(text).toContain('# TYPE rxjs_listen_queue_wait_seconds histogram\n');
    expect(text).toContain('rxjs_listen_queue_wait_seconds_bucket{le="0.25"} 0\nrxjs_listen_queue_wait_seconds_bucket{le="0.5"} 1\n');
    expect(text).toContain('rxjs_listen_queue_wait_seconds_bucket{le="+Inf"} 1\nrxjs_listen_queue_wait_seconds_sum 0.3\nrxjs_listen_queue_wait_seconds_count 1\n');
    const register = new Registry();
    collectMetrics(metrics, { register });
    expect(await register.metrics()).toContain('# TYPE rxjs_listen_queue_wait_seconds histogram\nrxjs_listen_queue_wait_seconds_bucket{le="0.005"} 0');
    expect(await register.metrics()).toContain('rxjs_listen_queue_wait_seconds_count 1');
  });
});

describe('collectMetrics (prom-client)', () => {
  it("adds every metric to the application's registry beside its own, read at each scrape", async () => {
    const register = new Registry();
    register.setDefaultLabels({ app: 'spec' });
    const own = new (await import('prom-client')).Counter({ name: 'app_requests_total', help: 'The application own.', registers: [register] });
    own.inc(3);
    const { listener, limiter, metrics } = loop();
    collectMetrics({ metrics }, { register });
    const first = await register.metrics();
    expect(first).toContain('app_requests_total{app="spec"} 3');
    expect(first).toContain('# TYPE rxjs_listen_accepted_total counter\nrxjs_listen_accepted_total{app="spec"} 2\n');
    expect(first).toContain('rxjs_listen_dropped_total{reason="limit",app="spec"} 1\nrxjs_listen_dropped_total{reason="per_peer",app="spec"} 0');
    expect(first).toContain('# TYPE rxjs_listen_live_connections gauge\nrxjs_listen_live_connections{app="spec"} 1\n');
    expect(first).toContain('rxjs_listen_paused_by{reason="limit",app="spec"} 1');
    // Later: the counters add what happened since, a released pause leaves paused_by.
    of<AcceptResult[]>(accepted(listener)).pipe(metrics.count()).subscribe();
    limiter.setLimit(5);
    const second = await register.metrics();
    expect(second).toContain('rxjs_listen_accepted_total{app="spec"} 3\n');
    expect(second).toContain('rxjs_listen_connection_limit{app="spec"} 5\n');
    expect(second).not.toContain('rxjs_listen_paused_by{');
    expect(second).toMatch(/rxjs_listen_paused_seconds_total\{reason="limit",app="spec"\} [1-9e.\d-]+/);
  });

  it('refuses a prefix Prometheus would not take, a source without metrics, an unknown option', () => {
    const { metrics } = loop();
    expect(() => collectMetrics(metrics, { register: new Registry(), prefix: 'my-app ' })).toThrow('collectMetrics: options.prefix must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got "my-app "');
    expect(() => collectMetrics({} as never)).toThrow(/^collectMetrics: source must be a Metrics, or have one as \.metrics/);
    expect(() => collectMetrics(metrics, { registry: new Registry() } as never)).toThrow(/^collectMetrics: options has no "registry"; did you mean "register"\?/);
  });
});

describe('observeMetrics (OpenTelemetry)', () => {
  it('reports every metric through a Meter, read at each collection, and stops when told', async () => {
    const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const { listener, metrics } = loop();
    const stop = observeMetrics(metrics, provider.getMeter('spec'));
    const points = (collected: ResourceMetrics) =>
      Object.fromEntries(
        collected.scopeMetrics.flatMap((scope) => scope.metrics).flatMap((metric) => metric.dataPoints.map((point) => [`${metric.descriptor.name}${JSON.stringify(point.attributes)}`, { value: point.value, unit: metric.descriptor.unit }])),
      );
    const first = points((await reader.collect()).resourceMetrics);
    expect(first['rxjs_listen.connections.accepted{}']).toEqual({ value: 2, unit: '{connection}' });
    expect(first['rxjs_listen.connections.dropped{"reason":"limit"}']).toEqual({ value: 1, unit: '{connection}' });
    expect(first['rxjs_listen.connections.dropped{"reason":"shed"}']).toEqual({ value: 0, unit: '{connection}' });
    expect(first['rxjs_listen.pauses{"reason":"limit"}']).toEqual({ value: 1, unit: '{pause}' });
    expect(first['rxjs_listen.paused.time{"reason":"limit"}']).toMatchObject({ unit: 's' });
    expect(first['rxjs_listen.connections.live{}']).toEqual({ value: 1, unit: '{connection}' });
    of<AcceptResult[]>(accepted(listener)).pipe(metrics.count()).subscribe();
    expect(points((await reader.collect()).resourceMetrics)['rxjs_listen.connections.accepted{}']).toMatchObject({ value: 3 }); // read again
    stop();
    of<AcceptResult[]>(accepted(listener)).pipe(metrics.count()).subscribe();
    expect(points((await reader.collect()).resourceMetrics)['rxjs_listen.connections.accepted{}']).toMatchObject({ value: 3 }); // no longer read
    await provider.shutdown();
  });

  it('refuses what is not a Meter', () => {
    expect(() => observeMetrics(new Metrics(), {} as never)).toThrow(/^observeMetrics: meter must be an OpenTelemetry Meter/);
  });
});

it('documents every metric in docs/metrics.md, by both its names', () => {
  const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
  const missing = METRICS.filter((m) => !doc.includes(`\`${m.name}\``) || (m.histogram === undefined && !doc.includes(`\`${m.otel}\``))).map((m) => m.name);
  expect(missing).toEqual([]);
});
