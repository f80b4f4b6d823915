import type { ListenerControl } from '../../errors/result';

/**
 * One reason an operator holds listeners paused for (the connection limit, a pressure signal):
 * each listener paused once however often it is asked, and all released together.
 */
export class ListenerPauses {
  readonly #resumes = new Map<ListenerControl, () => void>();

  /** @param reason What the listeners' `pauses` show while this holds them. */
  constructor(readonly reason: string) {}

  /** Pauses each of `listeners` not paused for this reason yet. What a `pause` throws goes to the caller. */
  pause(listeners: Iterable<ListenerControl>): void {
    for (const listener of listeners) if (!this.#resumes.has(listener)) this.#resumes.set(listener, listener.pause(this.reason));
  }

  /** Releases every listener held (each resumes once no other reason holds it). */
  release(): void {
    if (this.#resumes.size === 0) return;
    const resumes = [...this.#resumes.values()];
    this.#resumes.clear();
    for (const resume of resumes) resume();
  }
}
