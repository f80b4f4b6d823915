import { show } from '../util/validate';
import { histogramSamples, METRICS, type Reading } from './catalog';
import type { AcceptStats } from './metrics';

/**
 * The stats in Prometheus' text exposition format, for a `/metrics` endpoint.
 *
 * @param prefix Metric name prefix: letters, digits, `_` and `:`, not starting with a digit. Default `rxjs_listen_`.
 * @throws {TypeError} When `stats` is not a snapshot (say, the {@link Metrics} itself) or `prefix` not a string.
 * @throws {RangeError} When `prefix` would make invalid metric names (`'my-app '`): Prometheus would refuse the whole page.
 */
export function toPrometheus(stats: AcceptStats, prefix = 'rxjs_listen_'): string {
  if (typeof (stats as Partial<AcceptStats> | null)?.accepted !== 'number') throw new TypeError(`toPrometheus: stats must be a snapshot (metrics.snapshot()), got ${show(stats)}`);
  checkPrefix('toPrometheus: prefix', prefix);
  return renderPrometheus({ stats }, prefix);
}

/** A reading (with its state's metrics, where it has one) in Prometheus' text format; `prefix` checked by the caller. */
export function renderPrometheus(reading: Reading, prefix = 'rxjs_listen_'): string {
  const lines: string[] = [];
  for (const family of METRICS) {
    const name = `${prefix}${family.name}`;
    const samples = family.histogram === undefined ? family.read(reading).map((sample) => ({ metricName: name, ...sample })) : histogramSamples(name, family.histogram(reading));
    if (samples.length === 0) continue; // a labelled metric with no series now (no idle connection, no pause)
    lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
    for (const { metricName, labels = {}, value } of samples) {
      // Label values with the characters Prometheus would need escaped replaced; an unbounded limit written +Inf.
      const pairs = Object.entries(labels).map(([key, text]) => `${key}="${text.replace(/["\\\n]/g, '_')}"`);
      lines.push(`${metricName}${pairs.length === 0 ? '' : `{${pairs.join(',')}}`} ${value === Infinity ? '+Inf' : value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Throws unless `prefix` makes valid Prometheus metric names (its data model: `[a-zA-Z_:][a-zA-Z0-9_:]*`), or is empty. */
export function checkPrefix(name: string, prefix: unknown): void {
  if (typeof prefix !== 'string') throw new TypeError(`${name} must be a string, got ${show(prefix)}`);
  if (!/^(?:[a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix)) throw new RangeError(`${name} must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${show(prefix)}`);
}
