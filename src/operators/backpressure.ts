import { Observable, type OperatorFunction } from 'rxjs';
import { warnIfLimitExceedsFiles } from '../fileLimit';
import { Limiter, type LimiterOptions, type Token } from '../limiter';
import type { Accepted, ListenerControl } from '../result';

/** A connection admitted under a limit, with the token that holds its slot. */
export interface Admitted extends Accepted {
  /** Holds the connection's slot until its socket closes or it is released. */
  readonly token: Token;
}

/**
 * Limits simultaneous connections: emits each connection with a {@link Token}, and at `limit`
 * live tokens pauses accepting (the listener stops, so clients wait in no queue of ours), until
 * a token is released: when its socket closes, or explicitly. A connection that still arrives
 * over the limit is closed at once and counted in {@link Limiter.dropped}.
 *
 * At subscription it warns (`process.emitWarning`, code `RXJS_LISTEN_FILE_LIMIT`) when the
 * limit cannot fit in the process's open-file limit.
 *
 * ```
 * connections: -a-b-----c---|     limit 2
 * released:    -------a------
 * paused:         [---] [---     full at b, free when a's socket closes, full again at c
 * output:      -a-b-----c---|
 * ```
 *
 * @example
 * const limiter = new Limiter(100);
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(limiter), serve(handle)).subscribe();
 * limiter.setLimit(200); // live, e.g. from an admin endpoint
 *
 * @param limit The most live connections (an integer >= 1), or a {@link Limiter} to share or change live.
 * @param options With a number: a per-peer limit (see {@link LimiterOptions}).
 * @returns An operator from connections to admitted connections.
 */
export function backpressure(limit: number | Limiter, options?: LimiterOptions): OperatorFunction<Accepted, Admitted> {
  const shared = limit instanceof Limiter ? limit : undefined;
  if (shared !== undefined && options !== undefined) {
    throw new TypeError('backpressure: options go to the Limiter when one is passed: new Limiter(limit, options)');
  }
  if (shared === undefined) new Limiter(limit as number, options); // validates now, at call time

  return (source) =>
    new Observable<Admitted>((subscriber) => {
      const limiter = shared ?? new Limiter(limit as number, options);
      warnIfLimitExceedsFiles(limiter.limit);
      // The listeners feeding this operator (usually one), and the pause each holds while full.
      const listeners = new Set<ListenerControl>();
      const pauses = new Map<ListenerControl, () => void>();

      // Runs on every limiter change (admissions, releases, setLimit), so a throwing pause
      // must be routed to the subscriber here: a Subject would only report it as unhandled.
      const update = (): void => {
        try {
          if (limiter.full) {
            for (const listener of listeners) if (!pauses.has(listener)) pauses.set(listener, listener.pause('limit'));
          } else if (pauses.size > 0) {
            const resumes = [...pauses.values()];
            pauses.clear();
            for (const resume of resumes) resume();
          }
        } catch (error) {
          subscriber.error(error);
        }
      };

      subscriber.add(limiter.changes.subscribe(update));
      subscriber.add(
        source.subscribe({
          next: (connection) => {
            listeners.add(connection.listener);
            const token = limiter.admit(connection.socket);
            if (token === undefined) return update();
            // A literal of one shape rather than a spread: measurably cheaper on the accept path.
            subscriber.next({ type: 'connection', socket: connection.socket, listener: connection.listener, token });
          },
          error: (error: unknown) => subscriber.error(error),
          complete: () => subscriber.complete(),
        }),
      );
      return () => {
        for (const resume of pauses.values()) resume();
        pauses.clear();
      };
    });
}
