import { Subject, type Observable } from 'rxjs';

/**
 * A {@link index!Limiter}'s change events: when it starts or stops refusing, and when its limit is
 * set. Never on every admission or release: an event each would cost every connection.
 */
export class Changes {
  readonly #subject = new Subject<void>();
  // `refusing` as last announced.
  #refusing = false;
  readonly events: Observable<void> = this.#subject.asObservable();

  /** Emits if `refusing` has flipped since it was last announced. */
  announce(refusing: boolean): void {
    if (refusing === this.#refusing) return;
    this.#refusing = refusing;
    this.#subject.next();
  }

  /** Emits whatever `refusing` is (the limit was set). */
  emit(refusing: boolean): void {
    this.#refusing = refusing;
    this.#subject.next();
  }
}
