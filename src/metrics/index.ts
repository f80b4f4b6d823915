/**
 * `rxjs-listen/metrics`: the loop's counts, and their Prometheus text.
 *
 * @module metrics
 */
/// <reference types="node" preserve="true" />
export { Metrics, type AcceptStats } from './metrics';
export { toPrometheus } from './prometheus';
