import type { AddressInfo, ListenOptions, Server, Socket } from 'node:net';
import { asyncScheduler, first, Subject, timer, type Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { FATAL_RESUME_ERRORS } from '../errors/classify';
import { ListenError } from '../errors/listenError';
import type { AcceptError, Accepted, AcceptResult, During, ListenerControl, PauseTotal } from '../errors/result';
import { acceptStreak } from './acceptStreak';
import { onConnectionClosed } from './connectionCloses';
import { defaultHeadroom, fileShortage, openFileCount, openFilesEvery, readOpenFileLimit, socketFd } from './fileLimit';
import { Pauses } from './pauses';
import { keptBatch, QueueFlush, type Keep } from './queueFlush';

// How many connections a pause's flush answers as it takes them, the longest-queued: with more, clients
// that retry at once keep the queue from emptying; with none, the 503s came 10-15 ms later at 10x (RESULTS 19).
const ANSWERED_AT_ONCE = 32;

/** Options shared by {@link listen} and {@link fromServer}. */
export interface WatchOptions {
  /** Descriptors kept free under the open-file limit: an accepted descriptor this close to it is reported as EMFILE. Default: 5%, at least 16. */
  headroom?: number;
  /** When listening again fails and no operator paused in response, retry after this many ms. Default 500. */
  retryDelay?: number;
  /** How often, at least, to count open descriptors (Linux), for a shortage that files or outgoing sockets caused. Default 1000 ms; 0: off. */
  checkInterval?: number;
  /** How long, in ms, a pause shows in `pauses` (a balancer's agent says `drain`) before the socket closes, if still held. Default 0. */
  announcePause?: number;
  /**
   * Answers the connections a pause takes from the kernel's accept queue, emptying it before the
   * listening socket closes, so that the close resets no client: for HTTP, {@link serviceUnavailable}.
   * An exception it throws destroys the socket. Default: none (the close resets the queue).
   */
  refuse?: (socket: Socket) => void;
  /** With `refuse`: the newest connections a pause takes go downstream once the socket is closed, which stays closed while they last. */
  keepNewest?: KeepNewest;
  /** Called once, when the server first listens, with its bound address. */
  onListening?: (address: AddressInfo | string) => void;
  /** Where the timers run; tests pass a TestScheduler. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** {@link WatchOptions.keepNewest}: how many connections to keep, and for how long. */
export interface KeepNewest {
  /** Keep as many as the loop took in this many ms before the pause (one connection a turn), their first requests admitted by the limiter for as long: an integer >= 1. */
  ms: number;
  /** The longest the listener stays closed while the kept connections are served, ms. Default 100. */
  holdMs?: number;
}

/** `net.ListenOptions` with `reusePort` (Node >= 22.12, 23.1), which @types/node 20 lacks. */
export type Where = ListenOptions & { reusePort?: boolean };

/** The options, how to listen again (Node does not tell), and where to listen first (else the caller listens). */
export type WatchConfig = WatchOptions & { backlog?: number; reusePort?: boolean; start?: Where };

// A class, not a literal: V8 pretenures a literal's objects once enough outlive a scavenge, and
// each, dead, keeps its young socket alive until a full collection (bench/RESULTS.md section 11).
class Connection implements Accepted {
  readonly type = 'connection';

  constructor(
    readonly socket: Socket,
    readonly listener: ListenerControl,
  ) {}
}

/**
 * Emits a server's connections and accept errors to `subscriber`, pauses it by closing its listening
 * socket, and reports the descriptor shortage Node would hide as EMFILE. Returns the teardown (it closes nothing).
 */
export function watch(server: Server, subscriber: Subscriber<AcceptResult>, config: WatchConfig): () => void {
  return Watcher.start(server, subscriber, config);
}

/** One {@link watch}: the listener its results carry; the server's events go to handlers bound once. */
class Watcher implements ListenerControl {
  readonly #scheduler: SchedulerLike;
  readonly #fileLimit = readOpenFileLimit();
  // Descriptor numbers (and counts) at or above this mean the process is about to run out.
  readonly #ceiling: number = Infinity;
  // A file shortage's `relieved` hears a count after each burst of the server's closes (what frees
  // descriptors in a flood) while a pause waits, and the periodic checks'. Polling cost a paused
  // process 0.3% of a core (bench/RESULTS.md section 12): only where Node has no hook for closes.
  readonly #relieved: Observable<unknown> | undefined;
  readonly #counted = new Subject<number>();
  #countSoon: Subscription | undefined;
  readonly #unhookCloses: (() => void) | undefined;
  readonly #pauses = new Pauses(
    () => this.#pause(),
    () => this.#release(),
  );
  readonly #flush: QueueFlush | undefined;
  // The close a pause has announced (`announcePause`).
  #closing: Subscription | undefined;
  // The address first bound, listened on again after a pause.
  #address: AddressInfo | string | null = null;
  #resuming = false;
  #unwatched = false;

  private constructor(
    private readonly server: Server,
    private readonly subscriber: Subscriber<AcceptResult>,
    private readonly config: WatchConfig,
  ) {
    const { scheduler = asyncScheduler, checkInterval = 1000, refuse, start } = config;
    this.#scheduler = scheduler;
    if (refuse !== undefined) this.#flush = new QueueFlush(refuse, () => this.#stopListening(), setImmediate, this.#keeper(), ANSWERED_AT_ONCE);
    const limit = this.#fileLimit;
    if (limit !== undefined) {
      const headroom = config.headroom ?? defaultHeadroom(limit);
      const ceiling = (this.#ceiling = limit - headroom);
      this.#unhookCloses = onConnectionClosed(server, () => {
        if (this.#counted.observed && this.#countSoon === undefined) this.#countSoon = scheduler.schedule(this.#countAfterCloses);
      });
      const counts = this.#unhookCloses === undefined ? openFilesEvery(25, 0.01, scheduler, 100) : this.#counted;
      // Over once another `headroom` descriptors are free: each resume admits a batch instead of flapping per close.
      this.#relieved = counts.pipe(first((open) => open < ceiling - headroom));
      if (checkInterval > 0) {
        subscriber.add(
          openFilesEvery(checkInterval, 0.001, scheduler).subscribe((open) => {
            this.#counted.next(open);
            if (open >= ceiling && server.listening && !this.#pauses.paused) this.#fail(fileShortage(open, limit, 'accept'), 'accept', true);
          }),
        );
      }
    }
    server.on('connection', this.#onConnection);
    server.on('listening', this.#onListening);
    server.on('error', this.#onError);
    if (start !== undefined) server.listen(start);
    else if (server.listening) this.#onListening();
  }

  readonly pause = (reason: string): (() => void) => this.#pauses.hold(reason);
  readonly pauseTotals = (): ReadonlyMap<string, Readonly<PauseTotal>> => this.#pauses.totals();
  readonly address = (): AddressInfo | string | null => this.#address;

  get pauses(): readonly string[] {
    return this.#pauses.reasons;
  }

  get refused(): number {
    return this.#flush?.refused ?? 0;
  }

  readonly report = (error: AcceptError): void => {
    if (!this.#unwatched) this.#fail(error, 'accept', this.#relieved !== undefined && (error.code === 'EMFILE' || error.code === 'ENFILE'));
  };

  /** Watches `server` until the returned teardown runs (kept off the listener object, which results carry to users). */
  static start(server: Server, subscriber: Subscriber<AcceptResult>, config: WatchConfig): () => void {
    const watcher = new Watcher(server, subscriber, config);
    return () => watcher.#unwatch();
  }

  #unwatch(): void {
    this.#unwatched = true;
    this.#closing?.unsubscribe();
    this.#flush?.abandon();
    this.#unhookCloses?.();
    this.#countSoon?.unsubscribe();
    this.server.off('connection', this.#onConnection);
    this.server.off('listening', this.#onListening);
    if (this.config.start === undefined) this.server.off('error', this.#onError);
  }

  readonly #onConnection = (socket: Socket): void => {
    acceptStreak.took();
    if (this.#flush?.flushing) return this.#flush.take(socket);
    this.subscriber.next(new Connection(socket, this));
    // Linux gives out the lowest free number: descriptor N means N are open below it.
    const fd = socketFd(socket);
    if (fd >= this.#ceiling) this.#fail(fileShortage(fd + 1, this.#fileLimit!, 'accept'), 'accept', true);
  };

  readonly #onListening = (): void => {
    this.#resuming = false;
    const bound = this.#address === null ? this.server.address() : null;
    if (bound !== null) this.#address = bound;
    // A pause that arrived while listening was under way (cluster workers listen asynchronously).
    if (this.#pauses.paused) return this.#stopListening();
    if (bound !== null) this.config.onListening?.(bound);
  };

  readonly #onError = (error: AcceptError): void => {
    if (this.#unwatched) return; // a late listen error after unsubscribe must not crash the process
    if (this.#address === null && !this.server.listening) return this.subscriber.error(new ListenError(error));
    const during = this.#resuming ? 'resume' : 'accept';
    this.#resuming = false;
    // Refused for good (privileges dropped since): a ListenError, whose hint ends the stream in `handleErrors`.
    const fatal = during === 'resume' && FATAL_RESUME_ERRORS.has(error.code ?? '');
    this.#fail(fatal ? new ListenError(error, 'resume') : error, during);
  };

  #fail(error: AcceptError, during: Exclude<During, 'start'>, fileShort = false): void {
    this.subscriber.next(fileShort ? { type: 'error', error, during, listener: this, relieved: this.#relieved! } : { type: 'error', error, during, listener: this });
    if (during === 'resume' && !this.#pauses.paused && !this.#unwatched) {
      // Nobody downstream paused in response: retry later rather than spin or stay closed.
      const release = this.#pauses.hold('retry');
      this.subscriber.add(timer(this.config.retryDelay ?? 500, this.#scheduler).subscribe(release));
    }
  }

  readonly #countAfterCloses = (): void => {
    this.#countSoon = undefined;
    this.#counted.next(openFileCount());
  };

  // The first pause: the socket closes, after the announcement if any.
  #pause(): void {
    const announce = this.config.announcePause ?? 0;
    if (announce === 0) return this.#close();
    this.#closing = this.#scheduler.schedule(() => {
      this.#closing = undefined;
      if (this.#pauses.paused) this.#close();
    }, announce);
  }

  #close(): void {
    if (this.#flush === undefined) this.#stopListening();
    else this.#flush.start();
  }

  #stopListening(): void {
    if (this.server.listening) this.server.close();
  }

  // The last pause released.
  #release(): void {
    if (this.#flush?.flushing) return this.#flush.cancel(); // released before the socket closed: it never did
    if (this.#closing === undefined) return this.#resume();
    this.#closing.unsubscribe();
    this.#closing = undefined;
  }

  #resume(): void {
    const address = this.#address;
    if (this.#unwatched || address === null) return;
    // Count: the numbers seen on accept have holes by now (the listening socket's among them).
    const open = this.#fileLimit === undefined ? 0 : openFileCount();
    if (open + 1 >= this.#ceiling) return this.#fail(fileShortage(open, this.#fileLimit!, 'listen'), 'resume', true);
    this.#resuming = true;
    // The bound address: port 0 keeps its port, a host name is not looked up again.
    const { backlog, reusePort } = this.config;
    this.server.listen(typeof address === 'string' ? { path: address, backlog } : { host: address.address, port: address.port, backlog, reusePort });
  }

  /** What a flush keeps, and where the kept connections go: downstream, the listener held closed while they last. */
  #keeper(): Keep | undefined {
    if (this.config.keepNewest === undefined) return undefined;
    const { ms, holdMs = 100 } = this.config.keepNewest;
    this.subscriber.add(acceptStreak.watch()); // its pace sizes the batch
    return {
      count: () => Math.floor(ms / (acceptStreak.msPerConnection() ?? Infinity)),
      pass: (sockets, closed) => {
        if (closed) {
          const until = this.#scheduler.now() + ms;
          for (const socket of sockets) keptBatch.set(socket, until);
          const release = this.#pauses.hold('batch');
          let open = sockets.length;
          const gone = (): void => {
            if (--open === 0) release();
          };
          for (const socket of sockets) {
            if (socket.closed) gone();
            else socket.once('close', gone);
          }
          this.subscriber.add(timer(holdMs, this.#scheduler).subscribe(release));
        }
        for (const socket of sockets) this.subscriber.next(new Connection(socket, this));
      },
    };
  }
}
