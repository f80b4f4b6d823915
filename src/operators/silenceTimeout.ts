import { asyncScheduler, type MonoTypeOperatorFunction, type Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { Socket } from 'node:net';
import { LinkedList, type Links } from '../util/linkedList';
import { SocketRecords } from '../util/socketRecords';
import type { Accepted } from '../errors/result';
import { checkInteger, checkScheduler } from '../util/validate';
import { forward, operate } from './internal/operate';

/** A watched socket: its byte count when last seen moving (-1: not yet read), and since when. */
class Traffic implements Links<Traffic> {
  prev: Traffic | undefined = undefined;
  next: Traffic | undefined = undefined;
  bytes = -1;
  since = 0;

  constructor(
    readonly socket: Socket,
    readonly watched: LinkedList<Traffic>,
  ) {}
}

/** A closed socket leaves the list at once, not at the next check. */
const watchedSockets = new SocketRecords<Traffic>('traffic', { close: (traffic) => traffic.watched.remove(traffic) });

/**
 * Closes a connection that sends and receives nothing for `ms` to `1.2 × ms`, so that silent and
 * slowloris clients cannot hold their slots: one timer reads the byte counters every `ms / 5` (not
 * `socket.setTimeout`, which `http.Server` replaces after every response). Place it after
 * {@link backpressure}; once its source completes, the connections passed on stay watched until they close.
 *
 * ```
 * admitted: -a-------|
 * socket a:  [silent ms]x      x: destroyed, its token released
 * output:   -a-------|
 * ```
 *
 * @example
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(100), silenceTimeout(30_000), serve(handle)).subscribe();
 *
 * @param ms Milliseconds of silence allowed, an integer >= 1.
 * @param scheduler Where the checks are timed. Default `asyncScheduler`.
 * @throws {TypeError | RangeError} At call time, on an `ms` that is not an integer >= 1 or a `scheduler` that is not one.
 */
export function silenceTimeout<C extends Accepted>(ms: number, scheduler: SchedulerLike = asyncScheduler): MonoTypeOperatorFunction<C> {
  checkInteger('silenceTimeout: ms', ms, 1);
  checkScheduler('silenceTimeout: scheduler', scheduler);
  const period = Math.max(1, Math.floor(ms / 5));

  return operate((source: Observable<C>, subscriber: Subscriber<C>) => {
    const watched = new LinkedList<Traffic>();
    let sweeping: Subscription | undefined;
    let completed = false;

    const sweep = (): void => {
      const now = scheduler.now();
      for (let traffic = watched.first, next; traffic !== undefined; traffic = next) {
        next = traffic.next; // before the socket is destroyed and leaves the list
        const { socket } = traffic;
        const bytes = socket.bytesRead + socket.bytesWritten;
        if (bytes !== traffic.bytes) {
          traffic.bytes = bytes;
          traffic.since = now;
        } else if (now - traffic.since >= ms) {
          watched.remove(traffic);
          socket.destroy();
        }
      }
    };

    const watch = (socket: Socket): void => {
      const traffic = new Traffic(socket, watched);
      watched.push(traffic);
      watchedSockets.attach(socket, traffic);
      sweeping ??= scheduler.schedule(function () {
        try {
          sweep();
        } catch (error) {
          return subscriber.error(error); // a socket without counters: not one of Node's
        }
        if (watched.size > 0) this.schedule(undefined, period);
        else sweeping = undefined;
      }, period);
    };

    const subscription = source.subscribe(
      forward(
        subscriber,
        (connection) => {
          if (!connection.socket.closed) watch(connection.socket);
          subscriber.next(connection);
        },
        () => {
          completed = true;
          subscriber.complete();
        },
      ),
    );
    return () => {
      subscription.unsubscribe();
      // After completion they stay watched until they close; unsubscribing or an error stops at once.
      if (completed) return;
      sweeping?.unsubscribe();
      for (let traffic = watched.shift(); traffic !== undefined; traffic = watched.shift()) watchedSockets.detach(traffic.socket);
    };
  });
}
