import { METRICS } from './catalog';
import { readerOf, type MetricsSource } from './collectMetrics';

/** An OpenTelemetry `Meter` (`@opentelemetry/api`), as far as this module uses it: its types stay optional. */
export interface OtelMeter {
  /** Creates a counter read at each collection. */
  createObservableCounter(name: string, options: { description: string; unit: string }): object;
  /** Creates a gauge read at each collection. */
  createObservableGauge(name: string, options: { description: string; unit: string }): object;
  /** Reads several instruments in one callback at each collection. */
  addBatchObservableCallback(callback: BatchCallback, instruments: object[]): void;
  /** Stops such a callback. */
  removeBatchObservableCallback(callback: BatchCallback, instruments: object[]): void;
}

/** What a batch callback is given at each collection: where each instrument's values go. */
export interface BatchResult {
  /** Records a value of `instrument`, with its attributes. */
  observe(instrument: object, value: number, attributes?: Record<string, string>): void;
}

/** A batch callback. */
export type BatchCallback = (result: BatchResult) => void;

/**
 * Reports the loop's metrics through an OpenTelemetry `Meter`: observable counters and gauges
 * named `rxjs_listen.*` (`rxjs_listen.connections.accepted`, unit `{connection}`; times in `s`),
 * read from one snapshot per collection; all but the queue wait histogram, which has no
 * observable form (OpenTelemetry records histograms value by value, as they happen).
 *
 * @example
 * const server = listenAndServe(app, { port: 8080 });
 * observeMetrics(server, metrics.getMeter('my-service'));
 *
 * @returns A function that stops reporting.
 * @throws {TypeError} On a bad source or meter.
 */
export function observeMetrics(source: MetricsSource, meter: OtelMeter): () => void {
  const read = readerOf('observeMetrics', source);
  if (typeof (meter as Partial<OtelMeter> | null)?.addBatchObservableCallback !== 'function') {
    throw new TypeError(`observeMetrics: meter must be an OpenTelemetry Meter (metrics.getMeter(name)), got ${String(meter)}`);
  }
  const families = METRICS.filter((family) => family.histogram === undefined);
  const instruments = families.map((family) => {
    const create = family.type === 'counter' ? meter.createObservableCounter : meter.createObservableGauge;
    return create.call(meter, `rxjs_listen.${family.otel}`, { description: family.help, unit: family.unit });
  });
  const observe: BatchCallback = (result) => {
    const reading = read();
    families.forEach((family, i) => family.read(reading).forEach(({ labels, value }) => result.observe(instruments[i]!, value, labels)));
  };
  meter.addBatchObservableCallback(observe, instruments);
  return () => meter.removeBatchObservableCallback(observe, instruments);
}
