import type { AddressInfo, Server, Socket } from 'node:net';
import { asyncScheduler, timer, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { FATAL_RESUME_ERRORS } from '../errors/classify';
import { ListenError } from '../errors/listenError';
import type { AcceptError, Accepted, AcceptResult, During, ListenerControl } from '../errors/result';
import { defaultHeadroom, fileShortage, openFileCount, openFilesEvery, readOpenFileLimit, socketFd } from './fileLimit';
import { Pauses } from './pauses';
import { acceptStreak } from './acceptStreak';
import { QueueFlush, type Keep } from './queueFlush';
import { ReliefCounter } from './reliefCounter';
import { Relistener, type ListenAgain, type Where } from './relistener';

/** Options shared by {@link listen} and {@link fromServer}. */
export interface WatchOptions {
  /**
   * Descriptors to keep free under the open-file limit: when an accepted socket's descriptor
   * number comes this close to the limit, the listener reports EMFILE (which Node hides).
   * Default: 5% of the limit, at least 16.
   */
  headroom?: number;
  /**
   * When listening again fails and no operator paused in response, retry after this many ms.
   * Default 500.
   */
  retryDelay?: number;
  /**
   * How often, at least, a listening server counts its open descriptors (Linux), to catch a
   * shortage that something other than connections caused (files, outgoing sockets): Node
   * would meet it on the next accept and drop that connection silently. The period grows with
   * what a count costs (a few µs on Linux 6.2 and later; about 1 µs per descriptor before),
   * keeping the check under 0.1% of a core. While paused on a shortage, the same period bounds
   * how long a relief that no connection's close brought (files closed) takes to be seen.
   * Default 1000 ms; 0 turns it off.
   */
  checkInterval?: number;
  /**
   * Behind a load balancer that reads the loop's state (HAProxy's agent, a readiness probe):
   * how long a pause is announced (the listener's `pauses`, so the agent says `drain`) before
   * the listening socket closes, in ms, so that the balancer stops sending before any client
   * is refused. Meanwhile connections are still accepted and go down the pipeline (at the
   * connection limit with no wait queue, `backpressure` closes them: give it a queue). A pause
   * released within the delay never closes the socket. Default 0: close at once.
   */
  announcePause?: number;
  /**
   * Answers a connection that the listener takes from the kernel's accept queue after a pause
   * began: with it, a pause first empties the queue (Node takes one connection a turn; each is
   * kept from downstream) and closes the listening socket only once it is empty, so the close
   * resets no client that had already connected and sent its request; then each connection
   * taken goes here, so that a client retrying at once meets the closed socket instead of the
   * queue being emptied. Clients that come after are refused by the kernel (ECONNREFUSED). For HTTP, {@link serviceUnavailable}
   * (`503` with `Retry-After`); an exception it throws destroys the socket. Counted in
   * {@link ListenerControl.refused}. Default: none: the socket closes at once, and the kernel
   * resets what its queue holds.
   */
  refuse?: (socket: Socket) => void;
  /**
   * With `refuse`: the newest connections a pause takes from the accept queue go on downstream
   * instead of being refused, as many as the loop took in `ms` before the pause (at the pace of
   * the turns that filled the queue: one connection a turn), once the queue is empty and the
   * listening socket closed; the listener then stays closed until they have all closed, or
   * `holdMs` (default 100) has passed. So a process paused by a flood of new connections works
   * on a batch of the clients that waited least while the kernel refuses the rest at no cost,
   * where a listener that opened again at once would pay a `503` for most of what arrives.
   * Default: none kept.
   */
  keepNewest?: KeepNewest;
  /** Called once, when the server first listens, with its bound address. */
  onListening?: (address: AddressInfo | string) => void;
  /** Where the retry timer runs; tests pass a TestScheduler. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** {@link WatchOptions.keepNewest}: how many of the connections a pause's flush takes to keep, and for how long. */
export interface KeepNewest {
  /** Keep as many as the loop took in this many ms before the pause (at one connection a turn): an integer >= 1. */
  ms: number;
  /** The longest the listener stays closed while the kept connections are served, ms. Default 100. */
  holdMs?: number;
}

/** What {@link watch} needs besides the options: where to listen first, if it listens, and how to listen again. */
export interface WatchConfig extends WatchOptions, ListenAgain {
  /** Listen here at subscription; without it, the caller listens the server. */
  start?: Where;
}

/**
 * An accepted connection. Made by a class rather than an object literal: once enough of a
 * literal's objects outlive a young-generation collection (connections waiting, or live, when
 * one runs), V8 allocates that literal's later objects in the old generation directly
 * (allocation-site pretenuring, seen on Node 26; a class's are not), and each of those, dead,
 * keeps the young socket it points to alive until the next full collection (bench/RESULTS.md
 * section 11).
 */
class Connection implements Accepted {
  readonly type = 'connection';

  constructor(
    readonly socket: Socket,
    readonly listener: ListenerControl,
  ) {}
}

/**
 * Emits a server's connections and accept errors to `subscriber`, pauses it by closing its
 * listening socket ({@link Relistener}), and watches the process's descriptors: a shortage
 * Node would hide is emitted as EMFILE, with a `relieved` that tells when it is over
 * ({@link ReliefCounter}). Failing to listen at start errors the subscriber with a
 * {@link ListenError}; failing to listen again is emitted (`during: 'resume'`) and retried
 * after `retryDelay` unless something downstream pauses.
 *
 * @returns The teardown: removes what it added to the server (it closes nothing).
 */
export function watch(server: Server, subscriber: Subscriber<AcceptResult>, config: WatchConfig): () => void {
  const { scheduler = asyncScheduler, retryDelay = 500, checkInterval = 1000, start } = config;
  const fileLimit = readOpenFileLimit();
  const headroom = fileLimit === undefined ? 0 : (config.headroom ?? defaultHeadroom(fileLimit));
  // Descriptor numbers (and counts) at or above this mean the process is about to run out.
  const ceiling = fileLimit === undefined ? Infinity : fileLimit - headroom;
  const relistener = new Relistener(server, {
    backlog: config.backlog ?? start?.backlog,
    reusePort: config.reusePort ?? start?.reusePort,
    ipv6Only: config.ipv6Only ?? start?.ipv6Only,
  });
  // The shortage is over once another `headroom` descriptors are free under the ceiling, so
  // each resume admits a batch instead of flapping per closed socket.
  const relief = fileLimit === undefined ? undefined : new ReliefCounter(server, ceiling - headroom, scheduler);
  let closed = false;

  const announcePause = config.announcePause ?? 0;
  // With `refuse`: the accept queue emptied before the socket closes.
  const queue = config.refuse === undefined ? undefined : new QueueFlush(config.refuse, () => relistener.stop(), setImmediate, keeper(config.keepNewest));
  const close = (): void => (queue === undefined ? relistener.stop() : queue.start());
  // The close a pause has announced, while the balancers are given time to see it.
  let closing: Subscription | undefined;
  const stop = (): void => {
    if (announcePause === 0) return close();
    closing = scheduler.schedule(() => {
      closing = undefined;
      if (pauses.paused) close();
    }, announcePause);
  };
  const pauses = new Pauses(stop, () => {
    if (queue?.flushing) return queue.cancel(); // released before the socket closed: it never did
    if (closing === undefined) return resume();
    closing.unsubscribe();
    closing = undefined;
  });
  const listener: ListenerControl = {
    pause: (reason) => pauses.hold(reason),
    get pauses() {
      return pauses.reasons;
    },
    pauseTotals: () => pauses.totals(),
    get refused() {
      return queue?.refused ?? 0;
    },
    address: () => relistener.address,
    report: (error) => {
      if (!closed) fail(error, 'accept', relief !== undefined && (error.code === 'EMFILE' || error.code === 'ENFILE'));
    },
  };

  function fail(error: AcceptError, during: Exclude<During, 'start'>, fileShort = false): void {
    subscriber.next(fileShort ? { type: 'error', error, during, listener, relieved: relief!.relieved } : { type: 'error', error, during, listener });
    if (during === 'resume' && !pauses.paused && !closed) {
      // Nobody downstream paused in response: retry later rather than spin or stay closed.
      const release = pauses.hold('retry');
      subscriber.add(timer(retryDelay, scheduler).subscribe(release));
    }
  }

  function resume(): void {
    if (closed || !relistener.started) return;
    // Count the open descriptors: the numbers seen on accept have holes by now (the closed
    // listening socket's among them), so they would understate what is open.
    const open = fileLimit === undefined ? 0 : openFileCount();
    if (open + 1 >= ceiling) return fail(fileShortage(open, fileLimit!, 'listen'), 'resume', true);
    relistener.resume();
  }

  /** What a flush keeps, and where the kept connections go: downstream, the listener held closed while they last. */
  function keeper(keepNewest: WatchOptions['keepNewest']): Keep | undefined {
    if (keepNewest === undefined) return undefined;
    const { ms, holdMs = 100 } = keepNewest;
    subscriber.add(acceptStreak.watch()); // its pace sizes the batch
    return {
      count: () => {
        const pace = acceptStreak.msPerConnection();
        return pace === undefined ? 0 : Math.floor(ms / pace);
      },
      pass: (sockets, closed) => {
        if (closed) {
          const release = pauses.hold('batch');
          let open = sockets.length;
          const gone = (): void => {
            if (--open === 0) release();
          };
          for (const socket of sockets) {
            if (socket.closed) gone();
            else socket.once('close', gone);
          }
          subscriber.add(timer(holdMs, scheduler).subscribe(release));
        }
        for (const socket of sockets) subscriber.next(new Connection(socket, listener));
      },
    };
  }

  function onConnection(socket: Socket): void {
    acceptStreak.took();
    if (queue?.flushing) return queue.take(socket);
    subscriber.next(new Connection(socket, listener));
    // Linux gives out the lowest free number: descriptor N means N are open below it.
    const fd = socketFd(socket);
    if (fd >= ceiling) fail(fileShortage(fd + 1, fileLimit!, 'accept'), 'accept', true);
  }

  function onListening(): void {
    const first = relistener.listened();
    // A pause that arrived while listening was under way (cluster workers listen asynchronously).
    if (pauses.paused) return relistener.stop();
    if (first !== undefined) config.onListening?.(first);
  }

  function onError(error: AcceptError): void {
    if (closed) return; // a late listen error after unsubscribe must not crash the process
    const during = relistener.failed();
    if (during === 'start') return subscriber.error(new ListenError(error));
    // Listening again refused for good (EACCES, EPERM: privileges dropped since the first
    // listen): a ListenError, so that the stream `handleErrors` ends with it carries the hint.
    const fatal = during === 'resume' && FATAL_RESUME_ERRORS.has(error.code ?? '');
    fail(fatal ? new ListenError(error, 'resume') : error, during);
  }

  if (relief !== undefined && checkInterval > 0) {
    subscriber.add(
      openFilesEvery(checkInterval, 0.001, scheduler).subscribe((open) => {
        relief.tell(open);
        if (open >= ceiling && server.listening && !pauses.paused) fail(fileShortage(open, fileLimit!, 'accept'), 'accept', true);
      }),
    );
  }

  server.on('connection', onConnection);
  server.on('listening', onListening);
  server.on('error', onError);
  if (start !== undefined) server.listen(start);
  else if (server.listening) onListening();

  return () => {
    closed = true;
    closing?.unsubscribe();
    queue?.abandon();
    relief?.stop();
    server.off('connection', onConnection);
    server.off('listening', onListening);
    if (start === undefined) server.off('error', onError);
  };
}
