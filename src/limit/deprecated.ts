/*
 * The Limiter's names of 0.1, kept for one minor version (removed in 0.3): a getter that
 * vanished would read `undefined` in JavaScript, silently. Each says what replaces it.
 */
import type { LimiterCounts } from './counts';

/** The Limiter's members of 0.1 that have new names; see CHANGELOG.md. */
export interface DeprecatedLimiterMembers {
  /** @deprecated Use `limiter.live`; removed in 0.3. */
  readonly active: number;
  /** @deprecated Use `limiter.liveFrom(address)`; removed in 0.3. */
  activeFrom(address: string): number;
  /** @deprecated Use `limiter.counts.dropped`; removed in 0.3. */
  readonly dropped: number;
  /** @deprecated Use `limiter.counts.droppedPerPeer`; removed in 0.3. */
  readonly droppedPerPeer: number;
  /** @deprecated Use `limiter.counts.queued`; removed in 0.3. */
  readonly queued: number;
  /** @deprecated Use `limiter.counts.admittedFromQueue`; removed in 0.3. */
  readonly admittedFromQueue: number;
  /** @deprecated Use `limiter.counts.queueTimeouts`; removed in 0.3. */
  readonly queueTimeouts: number;
  /** @deprecated Use `limiter.counts.gaveUp`; removed in 0.3. */
  readonly gaveUp: number;
  /** @deprecated Use `limiter.counts.reclaimed`; removed in 0.3. */
  readonly reclaimed: number;
  /** @deprecated Use `limiter.counts.completed`; removed in 0.3. */
  readonly completed: number;
}

interface Current {
  readonly live: number;
  liveFrom(address: string): number;
  readonly counts: LimiterCounts;
}

const COUNTED: ReadonlyArray<keyof LimiterCounts> = ['dropped', 'droppedPerPeer', 'queued', 'admittedFromQueue', 'queueTimeouts', 'gaveUp', 'reclaimed', 'completed'];

/** Defines the old members on the Limiter's prototype, each reading its replacement. */
export function defineDeprecatedMembers(prototype: Current): void {
  const properties: PropertyDescriptorMap = {
    active: { get(this: Current) { return this.live; } },
    activeFrom: { value(this: Current, address: string) { return this.liveFrom(address); } },
  };
  for (const name of COUNTED) properties[name] = { get(this: Current) { return this.counts[name]; } };
  Object.defineProperties(prototype, properties);
}
