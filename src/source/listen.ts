import { createServer, Server as NetServer, type AddressInfo, type ListenOptions as NetListenOptions, type Server, type ServerOpts, type Socket } from 'node:net';
import { classifyFailure } from '../errors/classify';
import { asyncScheduler, filter, Observable, Subject, take, timer, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import { onConnectionClosed } from './connectionCloses';
import { defaultHeadroom, fileShortage, openFileCount, openFilesEvery, readOpenFileLimit, socketFd } from './fileLimit';
import { errorHint } from '../errors/hint';
import { Pauses } from './pauses';
import type { AcceptError, Accepted, AcceptResult, ListenerControl } from '../errors/result';
import { checkBoolean, checkDelay, checkFunction, checkInteger } from '../util/validate';

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
  /** Called once, when the server first listens, with its bound address. */
  onListening?: (address: AddressInfo | string) => void;
  /** Where the retry timer runs; tests pass a TestScheduler. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** Where {@link listen} listens: a TCP `port` (0 picks a free one) and `host`, or a Unix socket `path`. */
export interface ListenOptions extends WatchOptions {
  /** The TCP port, 0 to 65535 (0 picks a free one, kept across pauses). */
  port?: number;
  /** Default: all interfaces, as `net.Server.listen`. */
  host?: string;
  /** A Unix socket path, instead of a port. */
  path?: string;
  /** The kernel queue of connections not yet accepted. Default 511, as Node. */
  backlog?: number;
  /**
   * Lets several processes listen on this TCP port at once (SO_REUSEPORT), the kernel
   * spreading new connections among the listening ones; kept when listening again after a
   * pause, so a paused process leaves the group and rejoins it. Needs Node >= 22.12 (or 23.1)
   * and Linux 3.9+ (or DragonFlyBSD, FreeBSD 12+, Solaris, AIX); older Node ignores it (the
   * second process fails with EADDRINUSE). Not with `path`. Default false.
   */
  reusePort?: boolean;
  /**
   * Options for the `net.Server` this creates. Sockets handed to an `http.Server` should be
   * made the way it makes its own: `{ allowHalfOpen: true, noDelay: true }` (Node's http
   * defaults), or HTTP/1.1 half-closes and small responses behave differently.
   */
  server?: ServerOpts;
}

/**
 * Listening failed at start (the port is taken, privileged or not on this host), or listening
 * again after a pause was refused for good (`during: 'resume'`: EACCES or EPERM, a port below
 * 1024 after the process dropped its privileges).
 */
export class ListenError extends Error {
  /** Always `'ListenError'`. */
  override readonly name = 'ListenError';
  /** The error code: `'EADDRINUSE'`, `'EACCES'`, `'EADDRNOTAVAIL'`, ... */
  readonly code: string | undefined;
  /** The call that failed: `'listen'`, `'bind'`, `'getaddrinfo'`, ... */
  readonly syscall: string | undefined;
  /** What to do about it, with a link into `docs/errors.md` (also in the message). */
  readonly hint: string | undefined;

  /**
   * @param cause The error Node reported.
   * @param during Whether listening failed at start or when listening again after a pause.
   */
  constructor(
    override readonly cause: AcceptError,
    readonly during: 'start' | 'resume' = 'start',
  ) {
    const hint = errorHint(cause, during === 'resume' ? 'resume' : undefined);
    super(hint === undefined ? cause.message : `${cause.message}. ${hint}`);
    this.code = cause.code;
    this.syscall = cause.syscall;
    this.hint = hint;
  }
}

/**
 * A TCP or Unix-socket listener as an Observable of accept results. Each subscription creates
 * its own `net.Server`, listens, emits every accepted connection and accept error as a value,
 * and closes the server on unsubscribe. A failure to listen at start (EADDRINUSE, EACCES,
 * EADDRNOTAVAIL, ...) errors the Observable with a {@link ListenError} carrying a hint.
 *
 * Pausing (through {@link ListenerControl.pause}) closes the listening socket: Node has no way
 * to stop accept(2) on an open one, and accepting-then-closing costs a core under a flood.
 * While paused, new TCP clients are refused (ECONNREFUSED), connections already queued in the
 * kernel backlog are reset, and a Unix socket's path is gone (ENOENT). Connections already
 * accepted are untouched. Resuming listens again on the same address and port (also when it
 * was started on port 0) within a millisecond; if that fails (EMFILE, the port taken
 * meanwhile) the failure is emitted with `during: 'resume'` and retried. While paused the port
 * is free to bind for any local process, and a process that dropped its privileges after
 * binding a port below 1024 cannot bind it again: that failure (EACCES, EPERM) is emitted as a
 * {@link ListenError} with `during: 'resume'` and a hint, and `handleErrors` ends the stream
 * with it (a retry cannot succeed).
 *
 * @example
 * listen({ host: '127.0.0.1', port: 0 }).pipe(handleErrors(), take(1))
 *   .subscribe(({ socket }) => socket.end('hello\n'));
 *
 * @param options Where to listen, and how to watch for shortage.
 * @returns An Observable of {@link AcceptResult}; it never completes by itself.
 */
export function listen(options: ListenOptions): Observable<AcceptResult> {
  const where = checkAddress(options);
  checkWatchOptions('listen', options);
  return new Observable<AcceptResult>((subscriber) => {
    const server = createServer(options.server);
    const teardown = watch(server, options, subscriber, where);
    return () => {
      teardown();
      server.close();
    };
  });
}

/**
 * How often, at most, a listener paused on file shortage counts its open descriptors again
 * where Node does not tell it of its connections' closes (it does on Node 20 to 26: there it
 * counts after closes instead), so that accepting resumes soon after the shortage ends. Where
 * counting costs about 1 µs per open descriptor (before Linux 6.2), the period grows to
 * `open / 10` ms: polling stays near 1% of a core.
 */
export const RELIEF_POLL_MS = 25;

/**
 * How long, at most, between two counts while the count does not move (connections held
 * open, as by keep-alive clients): each count wakes a paused process, and a flood can hold
 * it paused for as long as it lasts. A change brings the period back to {@link RELIEF_POLL_MS}.
 */
export const RELIEF_STEADY_MS = 100;

/**
 * Watches a `net.Server` (or `http.Server`, `tls.Server`, ...) the caller owns: emits its
 * connections and accept errors as values, and pauses it by closing its listening socket and
 * listening again on the same address. Listen it before or after subscribing.
 *
 * Unsubscribing removes only the listeners this function added: it never closes the server.
 * If accepting is paused at that moment the server stays closed; call `server.listen()` or
 * `server.close()` as your shutdown needs. Add your own `'error'` listener if you unsubscribe
 * while the server lives on.
 *
 * @param server The server; its own `'connection'` listeners still run.
 * @param options How to watch for shortage; `backlog` and `reusePort` (see {@link ListenOptions})
 *   for listening again after a pause, as the server first listened (Node does not tell).
 * @returns An Observable of {@link AcceptResult}; it never completes by itself.
 */
export function fromServer(server: Server, options: WatchOptions & { backlog?: number; reusePort?: boolean } = {}): Observable<AcceptResult> {
  if (!(server instanceof NetServer)) throw new TypeError(`fromServer: server must be a net.Server, got ${String(server)}`);
  checkWatchOptions('fromServer', options);
  if (options.backlog !== undefined) checkInteger('fromServer: options.backlog', options.backlog, 1);
  if (options.reusePort !== undefined) checkBoolean('fromServer: options.reusePort', options.reusePort);
  return new Observable<AcceptResult>((subscriber) => watch(server, options, subscriber, undefined, options.backlog, options.reusePort));
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

/** `net.ListenOptions` with `reusePort` (Node >= 22.12, 23.1), which @types/node 20 lacks. */
type Where = NetListenOptions & { reusePort?: boolean };

function watch(
  server: Server,
  options: WatchOptions,
  subscriber: Subscriber<AcceptResult>,
  start: Where | undefined,
  backlog = start?.backlog,
  reusePort = start?.reusePort,
): () => void {
  const scheduler = options.scheduler ?? asyncScheduler;
  const retryDelay = options.retryDelay ?? 500;
  const fileLimit = readOpenFileLimit();
  const headroom = fileLimit === undefined ? 0 : (options.headroom ?? defaultHeadroom(fileLimit));
  // Descriptor numbers (and counts) at or above this mean the process is about to run out.
  const ceiling = fileLimit === undefined ? Infinity : fileLimit - headroom;
  const checkInterval = options.checkInterval ?? 1000;
  // Where to listen again after a pause: the address actually bound, so port 0 keeps its
  // port and a host name is not looked up again.
  let where: Where | undefined;
  let bound: AddressInfo | string | null = null;
  let resuming = false;
  let closed = false;

  const pauses = new Pauses(stop, resume);
  const listener: ListenerControl = {
    pause: (reason) => pauses.hold(reason),
    get pauses() {
      return pauses.reasons;
    },
    address: () => bound,
    report: (error) => {
      if (!closed) fail(error, 'accept', fileLimit !== undefined && (error.code === 'EMFILE' || error.code === 'ENFILE'));
    },
  };

  // Emits once another `headroom` descriptors are free under the ceiling, so each resume admits
  // a batch instead of flapping per closed socket. What frees descriptors in a flood is the
  // server's own connections closing: the count is taken once after each burst of closes (one
  // scheduled count), and the periodic check below (`checkInterval`) tells it too, for other
  // causes (files, outgoing sockets). Polling every 25-100 ms instead cost a paused process
  // about 0.3% of a core in wakeups (bench/RESULTS.md section 12); it remains where Node has
  // no hook for closes. Each count goes to the waiters there were when it came (a Subject's
  // snapshot): a pause that ends on it, resumes, fails and waits again waits for the next one.
  const counted = new Subject<number>();
  let reliefCount: Subscription | undefined;
  const countAfterCloses = (): void => {
    reliefCount = undefined;
    counted.next(openFileCount());
  };
  const unhook = fileLimit === undefined ? undefined : onConnectionClosed(server, () => {
    if (counted.observed && reliefCount === undefined) reliefCount = scheduler.schedule(countAfterCloses);
  });
  const counts = unhook === undefined ? openFilesEvery(RELIEF_POLL_MS, 0.01, scheduler, RELIEF_STEADY_MS) : counted;
  const relieved = counts.pipe(
    filter((open) => open < ceiling - headroom),
    take(1),
  );

  function fail(error: AcceptError, during: 'accept' | 'resume', fileShort = false): void {
    subscriber.next(fileShort ? { type: 'error', error, during, listener, relieved } : { type: 'error', error, during, listener });
    if (during === 'resume' && !pauses.paused && !closed) {
      // Nobody downstream paused in response: retry later rather than spin or stay closed.
      const release = pauses.hold('retry');
      subscriber.add(timer(retryDelay, scheduler).subscribe(release));
    }
  }

  function stop(): void {
    if (server.listening) server.close();
  }

  function resume(): void {
    if (closed || where === undefined) return;
    // Count the open descriptors: the numbers seen on accept have holes by now (the closed
    // listening socket's among them), so they would understate what is open.
    const open = fileLimit === undefined ? 0 : openFileCount();
    if (open + 1 >= ceiling) return fail(fileShortage(open, fileLimit!, 'listen'), 'resume', true);
    resuming = true;
    server.listen(where);
  }

  function onConnection(socket: Socket): void {
    subscriber.next(new Connection(socket, listener));
    // Linux gives out the lowest free number: descriptor N means N are open below it.
    const fd = socketFd(socket);
    if (fd >= ceiling) fail(fileShortage(fd + 1, fileLimit!, 'accept'), 'accept', true);
  }

  function onListening(): void {
    resuming = false;
    // A pause that arrived while listening was under way (cluster workers listen asynchronously).
    if (pauses.paused) return stop();
    if (where !== undefined) return;
    const address = server.address()!;
    bound = address;
    where = typeof address === 'string' ? { path: address, backlog } : { host: address.address, port: address.port, backlog, ipv6Only: start?.ipv6Only, reusePort };
    options.onListening?.(address);
  }

  function onError(error: AcceptError): void {
    if (closed) return; // a late listen error after unsubscribe must not crash the process
    if (where === undefined && !server.listening) return subscriber.error(new ListenError(error));
    const during = resuming ? 'resume' : 'accept';
    resuming = false;
    // Listening again refused for good (EACCES, EPERM: privileges dropped since the first
    // listen): a ListenError, so that the stream `handleErrors` ends with it carries the hint.
    const fatal = during === 'resume' && classifyFailure({ type: 'error', error, during, listener }) === 'fatal';
    fail(fatal ? new ListenError(error, 'resume') : error, during);
  }

  if (fileLimit !== undefined && checkInterval > 0) {
    subscriber.add(
      openFilesEvery(checkInterval, 0.001, scheduler).subscribe((open) => {
        counted.next(open);
        if (open >= ceiling && server.listening && !pauses.paused) fail(fileShortage(open, fileLimit, 'accept'), 'accept', true);
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
    unhook?.();
    reliefCount?.unsubscribe();
    server.off('connection', onConnection);
    server.off('listening', onListening);
    if (start === undefined) server.off('error', onError);
  };
}

function checkAddress(options: ListenOptions): Where {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`listen: options must be an object with a port or a path, got ${String(options)}`);
  }
  const { port, host, path, backlog, reusePort } = options;
  if (port === undefined && path === undefined) throw new TypeError('listen: options.port or options.path is required');
  if (port !== undefined && path !== undefined) throw new TypeError('listen: options.port and options.path exclude each other');
  if (port !== undefined) checkInteger('listen: options.port', port, 0, 65535);
  if (path !== undefined && (typeof path !== 'string' || path === '')) {
    throw new TypeError(`listen: options.path must be a non-empty string, got ${JSON.stringify(path)}`);
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw new TypeError(`listen: options.host must be a non-empty string, got ${JSON.stringify(host)}`);
  }
  if (backlog !== undefined) checkInteger('listen: options.backlog', backlog, 1);
  if (reusePort !== undefined) {
    checkBoolean('listen: options.reusePort', reusePort);
    if (path !== undefined) throw new TypeError('listen: options.reusePort applies to a TCP port, not to options.path');
  }
  return path !== undefined ? { path, backlog } : { port, host, backlog, reusePort };
}

function checkWatchOptions(caller: string, options: WatchOptions): void {
  if (options.headroom !== undefined) checkInteger(`${caller}: options.headroom`, options.headroom, 0);
  if (options.retryDelay !== undefined) checkDelay(`${caller}: options.retryDelay`, options.retryDelay);
  if (options.checkInterval !== undefined) checkInteger(`${caller}: options.checkInterval`, options.checkInterval, 0);
  if (options.onListening !== undefined) checkFunction(`${caller}: options.onListening`, options.onListening);
}
