import { show } from '../util/validate';
import { histogramSamples, METRICS, type Reading } from './catalog';
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
  checkPrefix('toPrometheus: prefix', prefix);
  return renderPrometheus({ stats }, prefix);
}

/**
 * A reading in Prometheus' text format (the state's metrics too, where it has one).
 *
 * @param reading The counts, and the state if known.
 * @param prefix Metric name prefix, checked by the caller.
 * @returns The text.
 */
export function renderPrometheus(reading: Reading, prefix = 'rxjs_listen_'): string {
  const lines: string[] = [];
  for (const family of METRICS) {
    const name = `${prefix}${family.name}`;
    if (family.histogram !== undefined) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} histogram`);
      for (const { metricName, labels, value } of histogramSamples(name, family.histogram(reading))) lines.push(`${metricName}${labels.le === undefined ? '' : `{le="${labels.le}"}`} ${value}`);
      continue;
    }
    const samples = family.read(reading);
    if (samples.length === 0) continue; // a labelled metric with no series now (no idle connection, no pause)
    lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
    for (const { labels, value } of samples) {
      const pairs = labels === undefined ? '' : `{${Object.entries(labels).map(([key, text]) => `${key}="${label(text)}"`).join(',')}}`;
      // Prometheus writes an unbounded limit as +Inf.
      lines.push(`${name}${pairs} ${value === Infinity ? '+Inf' : value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A label value with the characters Prometheus would need escaped replaced. */
function label(value: string): string {
  return value.replace(/["\\\n]/g, '_');
}

/**
 * Throws unless `prefix` makes valid Prometheus metric names.
 *
 * @param name The argument, as errors name it.
 * @param prefix The prefix.
 */
export function checkPrefix(name: string, prefix: unknown): void {
  if (typeof prefix !== 'string') throw new TypeError(`${name} must be a string, got ${show(prefix)}`);
  if (!METRIC_NAME_PREFIX.test(prefix)) throw new RangeError(`${name} must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got ${show(prefix)}`);
}
