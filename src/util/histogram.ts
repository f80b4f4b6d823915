/** A histogram's figures: how many values fell at or below each bound, their sum and count. */
export interface HistogramData {
  /** The upper bounds, ascending (the last bucket, +Inf, is `count`). */
  readonly bounds: readonly number[];
  /** Per bound, how many values were at or below it (cumulative, as Prometheus writes them). */
  readonly buckets: readonly number[];
  /** The sum of the values. */
  readonly sum: number;
  /** How many values. */
  readonly count: number;
}

/** Counts values into fixed buckets: one comparison per bound, no allocation. */
export class Histogram implements HistogramData {
  readonly buckets: number[];
  sum = 0;
  count = 0;

  /** @param bounds The upper bounds, ascending. Default Prometheus' buckets, in seconds: 5 ms to 10 s. */
  constructor(readonly bounds: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]) {
    this.buckets = bounds.map(() => 0);
  }

  /** Counts one value. */
  record(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = this.bounds.length - 1; i >= 0 && value <= this.bounds[i]!; i--) this.buckets[i]!++;
  }
}

/** A copy of a histogram's figures now. */
export function copyOf({ bounds, buckets, sum, count }: HistogramData): HistogramData {
  return { bounds, buckets: [...buckets], sum, count };
}
