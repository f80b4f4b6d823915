import { Observable, type Observer, type OperatorFunction, type Subscriber, type TeardownLogic } from 'rxjs';

/** A hand-rolled operator, as RxJS's internal `operate`: `init` subscribes to the source at each subscription and returns the teardown. */
export function operate<T, R>(init: (source: Observable<T>, subscriber: Subscriber<R>) => TeardownLogic): OperatorFunction<T, R> {
  return (source) => new Observable<R>((subscriber) => init(source, subscriber));
}

/**
 * The observer an operator subscribes to its source with: errors, and completion unless `complete` is given, go
 * on to `destination`, and so does what `next` throws, as in RxJS's `OperatorSubscriber` (else it is unhandled).
 */
export function forward<T>(destination: Subscriber<unknown>, next: (value: T) => void, complete?: () => void): Observer<T> {
  return {
    next: (value) => {
      try {
        next(value);
      } catch (error) {
        destination.error(error);
      }
    },
    error: (error: unknown) => destination.error(error),
    complete: complete ?? (() => destination.complete()),
  };
}
