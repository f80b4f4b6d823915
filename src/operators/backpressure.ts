import type { Socket } from 'node:net';
import type { Observable, OperatorFunction, Subscriber } from 'rxjs';
import { warnIfLimitExceedsFiles } from '../source/fileLimit';
import type { Admissions } from '../limit/admissions';
import { Limiter, type LimiterOptions } from '../limit/limiter';
import type { Token } from '../limit/token';
import type { Accepted, ListenerControl } from '../errors/result';
import { ListenerPauses } from './internal/listenerPauses';
import { checkInteger, checkOptions, show } from '../util/validate';
import { forward, operate } from './internal/operate';

/** A connection admitted under a limit, with the token that holds its slot. */
export interface Admitted extends Accepted {
  /** Holds the connection's slot until its socket closes or it is released. */
  readonly token: Token;
}

/** A class, not a literal: it lives as long as its connection (see `Connection` in listen.ts). */
class AdmittedConnection implements Admitted {
  readonly type = 'connection';

  constructor(
    readonly socket: Socket,
    readonly listener: ListenerControl,
    readonly token: Token,
  ) {}
}

/**
 * Limits simultaneous connections: emits each connection with a {@link Token} once it has a slot,
 * meanwhile held in the {@link Limiter}'s queue; only when that is full too does the listener pause
 * (the kernel refuses new clients at no cost to the process). Unsubscribing ends the waiting
 * connections and lets the admitted ones finish their current exchange. At subscription it warns
 * (`RXJS_LISTEN_FILE_LIMIT`) when the limit and the queue exceed the open-file limit.
 *
 * ```
 * connections: -a-b-c---d---e---|     limit 2, queue 1
 * released:    -------a---b------
 * paused:           [-] [-] [---]     slots and queue full at c, d and e, until a slot frees
 * output:      -a-b---c---d-----|     c waits for a's slot, d for b's; e, still waiting at the end, is closed
 * ```
 *
 * @example
 * const limiter = new Limiter(100, { queueSize: 511, queueTimeout: 10_000 });
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(limiter), serve(handle)).subscribe();
 * limiter.setLimit(200); // live, e.g. from an admin endpoint
 *
 * @param limit The most live connections (an integer >= 1), or a {@link Limiter} to share or change live.
 * @param options With a number: the per-peer limit and the queue (see {@link LimiterOptions}).
 * @throws {TypeError | RangeError} At call time, on a limit that is neither an integer >= 1 nor a Limiter, or bad options.
 */
export function backpressure(limit: number | Limiter, options?: LimiterOptions): OperatorFunction<Accepted, Admitted> {
  if (limit instanceof Limiter) {
    if (options !== undefined) throw new TypeError('backpressure: options go to the Limiter when one is passed: new Limiter(limit, options)');
  } else {
    // Named here, not by the Limiter's own checks: the caller wrote backpressure('100').
    if (typeof limit !== 'number') throw new TypeError(`backpressure: limit must be a number or a Limiter, got ${show(limit)}`);
    checkInteger('backpressure: limit', limit, 1);
    if (options !== undefined) checkOptions('backpressure: options', options);
    new Limiter(limit, options); // validates the options now, at call time
  }

  return operate((source: Observable<Accepted>, subscriber: Subscriber<Admitted>) => {
    const limiter = limit instanceof Limiter ? limit : new Limiter(limit, options);
    warnIfLimitExceedsFiles(limiter.limit, limiter.queueSize);
    const listeners = new Set<ListenerControl>();
    const pauses = new ListenerPauses('limit');
    let lastListener: ListenerControl | undefined;

    // A pause that throws must reach the subscriber here: a Subject would only report it as unhandled.
    const update = (): void => {
      try {
        if (limiter.refusing) pauses.pause(listeners);
        else pauses.release();
      } catch (error) {
        subscriber.error(error);
      }
    };

    const admissions: Admissions<Accepted> = {
      admitted: ({ socket, listener }, token) => subscriber.next(new AdmittedConnection(socket, listener, token)),
      failed: (error) => subscriber.error(error),
    };

    subscriber.add(limiter.changes.subscribe(update));
    subscriber.add(
      source.subscribe(
        forward(subscriber, (connection) => {
          // Usually the same listener every time: a Set.add per connection showed in profiles.
          if (connection.listener !== lastListener) listeners.add((lastListener = connection.listener));
          if (limiter.enter(connection, admissions) === 'dropped') update();
        }),
      ),
    );
    return () => {
      limiter.withdraw(admissions);
      pauses.release();
    };
  });
}
