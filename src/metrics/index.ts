/**
 * `rxjs-listen/metrics`: the loop's counts, and where they go: Prometheus text, a prom-client
 * registry, an OpenTelemetry meter.
 *
 * @module metrics
 */
/// <reference types="node" preserve="true" />
export { Metrics, type AcceptStats } from './metrics';
export { toPrometheus } from './prometheus';
export { collectMetrics, type CollectMetricsOptions, type MetricsSource, type PromRegistry } from './collectMetrics';
export { observeMetrics, type OtelMeter } from './observeMetrics';
