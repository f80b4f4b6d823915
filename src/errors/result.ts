import type { AddressInfo, Socket } from 'node:net';
import type { Observable } from 'rxjs';
import { checkOptions } from '../util/validate';

/** An error from accepting or listening, as Node reports it (`code`, `syscall`, `errno`), or a shortage Node hides (see {@link listen}). */
export type AcceptError = NodeJS.ErrnoException;

/** What the listener was doing when it met an error: starting to listen (a {@link ListenError}), accepting, or listening again after a pause. */
export type During = 'start' | 'accept' | 'resume';

/** The handle a result carries back to the listener that produced it, so that downstream operators can stop and restart accepting. */
export interface ListenerControl {
  /**
   * Stops accepting until the returned function (releasing twice is harmless) is called; the
   * listener accepts again only when every pause has been released.
   *
   * @param reason Why, for whoever inspects {@link ListenerControl.pauses} (`'shortage'`, `'limit'`, ...).
   */
  pause(reason: string): () => void;
  /** The reasons currently holding the listener paused; empty while accepting. */
  readonly pauses: readonly string[];
  /** Per reason ever held: how many pauses, and how long they lasted in all (ms), for metrics. */
  pauseTotals(): ReadonlyMap<string, Readonly<PauseTotal>>;
  /** Connections answered by the listener's `refuse` while a pause emptied the accept queue (see `WatchOptions.refuse`). */
  readonly refused: number;
  /** The address the listener is bound to (kept while paused), as `net.Server.address()` gives it; `null` before it first listens. */
  address(): AddressInfo | string | null;
  /** Feeds an error met elsewhere (a handler's EMFILE) into the loop as an accept error (`during: 'accept'`). */
  report(error: AcceptError): void;
}

/** How many times a pause reason was held, and for how long in all. */
export interface PauseTotal {
  /** Holds begun. */
  count: number;
  /** Milliseconds held in all (holds that overlap each count; one under way, up to now). */
  ms: number;
}

/** A connection the listener accepted. */
export interface Accepted {
  /** Tells an accepted connection from an {@link AcceptFailed}. */
  readonly type: 'connection';
  /** The accepted socket. */
  readonly socket: Socket;
  /** The listener that accepted it. */
  readonly listener: ListenerControl;
}

/** An error the listener met while accepting, or listening again after a pause (then worth a retry, or a {@link ListenError}). */
export interface AcceptFailed {
  /** Tells an error from an {@link Accepted}. */
  readonly type: 'error';
  /** The error, with `code` and `syscall`. */
  readonly error: AcceptError;
  /** Whether it came from accepting, or from listening again after a pause. */
  readonly during: Exclude<During, 'start'>;
  /** The listener that met it. */
  readonly listener: ListenerControl;
  /** For shortages the listener can check again (open files on Linux): emits once it is over, so a pause can end early. Cold. */
  readonly relieved?: Observable<unknown>;
}

/** What a listener emits: connections and accept errors, both as values. */
export type AcceptResult = Accepted | AcceptFailed;

/** Whether `result` is an accepted connection; a TypeError when it is not an object. */
export function isAccepted(result: AcceptResult): result is Accepted {
  return checkOptions('isAccepted: result', result, 'an accept result').type === 'connection';
}
