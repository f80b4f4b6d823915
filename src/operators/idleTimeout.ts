import { tap, type MonoTypeOperatorFunction } from 'rxjs';
import type { Socket } from 'node:net';
import type { Accepted } from '../result';
import { checkInteger } from '../validate';

// One shared listener for every socket, not a closure per connection.
function destroyIdle(this: Socket): void {
  this.destroy();
}

/**
 * Closes a connection that sends and receives nothing for `ms` (Node's socket idle timer, reset
 * by every read and write), so idle clients, and slowloris clients that trickle a byte less
 * often than that, cannot hold their slots forever: closing the socket releases its token.
 * (A client trickling faster is the protocol's business: `http.Server`'s `headersTimeout` and
 * `requestTimeout`.) Place it after {@link backpressure}, or anywhere connections pass.
 *
 * ```
 * admitted: -a-------|
 * socket a:  [idle ms]x      x: destroyed, its token released
 * output:   -a-------|
 * ```
 *
 * @example
 * listen({ port: 8080 }).pipe(handleErrors(), backpressure(100), idleTimeout(30_000), serve(handle)).subscribe();
 *
 * @param ms Milliseconds of silence allowed, an integer >= 1.
 * @returns An operator that passes connections through.
 */
export function idleTimeout<C extends Accepted>(ms: number): MonoTypeOperatorFunction<C> {
  checkInteger('idleTimeout: ms', ms, 1);
  return tap(({ socket }) => {
    // The socket's own idle timer, not an RxJS one: Node resets it on every read and write,
    // which an operator could only do by watching every chunk on the hot path.
    socket.setTimeout(ms);
    socket.on('timeout', destroyIdle);
  });
}
