/**
 * `rxjs-listen/metrics`: the loop's counts, and where they go: Prometheus text, a prom-client registry, an OpenTelemetry meter.
 *
 * @module metrics
 */
/// <reference types="node" preserve="true" />
export { Metrics, type AcceptStats, type PauseSeconds } from './metrics';
export { toPrometheus } from './prometheus';
export { collectMetrics, type CollectMetricsOptions, type MetricsHolder, type MetricsSource, type PromRegistry, type StateHolder } from './collectMetrics';
export { observeMetrics, type BatchCallback, type BatchResult, type OtelMeter } from './observeMetrics';
export type { StateReading } from './catalog';
