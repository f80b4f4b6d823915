import { checkKnownOptions, show } from '../util/validate';
import { histogramSamples, METRICS, type Reading, type StateReading } from './catalog';
import { Metrics } from './metrics';
import { checkPrefix } from './prometheus';

/** Whose metrics to export: a {@link Metrics}, or anything that has one (`listenAndServe`'s handle, an `acceptLoop`). */
export type MetricsSource = Metrics | MetricsHolder;

/** Anything that has a {@link Metrics}, and maybe a `LoopStatus`: `listenAndServe`'s handle, an `acceptLoop`. */
export interface MetricsHolder {
  /** Its metrics. */
  readonly metrics: Metrics;
  /** Its state (`LoopStatus`): with it, the phase, the event loop's busy share and the headroom are exported too. */
  readonly status?: StateHolder;
}

/** A prom-client `Registry`, as far as this module uses it (prom-client's types stay optional). */
export interface PromRegistry {
  /** Registers a metric (prom-client's constructors call it). */
  registerMetric(metric: never): void;
}

/** What has a loop state: a `LoopStatus`. */
export interface StateHolder {
  /** The state now. */
  readonly state: StateReading;
}

/** Options of {@link collectMetrics}. */
export interface CollectMetricsOptions {
  /** The registry to add the metrics to. Default: prom-client's global `register`. */
  register?: PromRegistry;
  /** Metric name prefix. Default `rxjs_listen_`. */
  prefix?: string;
}

/** The reader of a {@link MetricsSource}, checked: `caller` names the function in errors. */
export function readerOf(caller: string, source: MetricsSource): () => Reading {
  const metrics = source instanceof Metrics ? source : (source as { metrics?: unknown } | null)?.metrics;
  if (!(metrics instanceof Metrics)) throw new TypeError(`${caller}: source must be a Metrics, or have one as .metrics (listenAndServe's handle, an acceptLoop), got ${show(source)}`);
  const status = source instanceof Metrics ? undefined : source.status;
  return () => ({ stats: metrics.snapshot(), state: status?.state });
}

/**
 * Adds the loop's metrics to a prom-client registry, so that an application's own `/metrics`
 * serves them beside its others, every value read at scrape time. prom-client is an optional
 * peer dependency, loaded only when this is called.
 *
 * @example
 * const server = listenAndServe(app, { port: 8080 });
 * collectMetrics(server); // then `await register.metrics()` in the application's /metrics
 *
 * @throws {TypeError | RangeError} On a bad source or option, or when prom-client is not installed.
 */
export function collectMetrics(source: MetricsSource, options: CollectMetricsOptions = {}): void {
  const read = readerOf('collectMetrics', source);
  const { register, prefix = 'rxjs_listen_' } = checkKnownOptions('collectMetrics: options', options, ['register', 'prefix']);
  checkPrefix('collectMetrics: options.prefix', prefix);
  let client: typeof import('prom-client');
  try {
    client = require('prom-client') as typeof import('prom-client');
  } catch {
    throw new TypeError('collectMetrics: needs prom-client, an optional peer dependency: npm install prom-client');
  }
  const registers = [(register ?? client.register) as unknown as import('prom-client').Registry];
  for (const family of METRICS) {
    const { help, labels: labelNames, histogram } = family;
    const name = `${prefix}${family.name}`;
    if (histogram !== undefined) {
      // prom-client's Histogram only observes values one by one: the loop's buckets go through its interface for a metric.
      const metric = { name, help, type: 'histogram', aggregator: 'sum' } as const;
      registers[0]!.registerMetric({ ...metric, get: () => ({ ...metric, values: histogramSamples(name, histogram(read())) }), reset: () => undefined } as never);
    } else if (family.type === 'counter') {
      // prom-client's counters only go up: each scrape adds what the loop counted since the last.
      const last = new Map<string, number>();
      new client.Counter({
        name, help, labelNames, registers,
        collect() {
          for (const { labels = {}, value } of family.read(read())) {
            const key = JSON.stringify(labels);
            this.inc(labels, value - (last.get(key) ?? 0)); // an increment of 0 makes the series exist
            last.set(key, value);
          }
        },
      });
    } else {
      new client.Gauge({
        name, help, labelNames, registers,
        collect() {
          if (labelNames.length > 0) this.reset(); // a pause reason, a protocol gone since the last scrape
          for (const { labels = {}, value } of family.read(read())) this.set(labels, value);
        },
      });
    }
  }
}
