import { createServer, Server as NetServer, type Server, type ServerOpts } from 'node:net';
import { Observable } from 'rxjs';
import type { AcceptResult } from '../errors/result';
import { checkBoolean, checkDelay, checkFunction, checkInteger, checkKnownOptions, checkOptions, checkScheduler, checkString, optionNames } from '../util/validate';
import type { Where } from './relistener';
import { watch, type WatchOptions } from './watch';

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

/** The options {@link listen} and {@link fromServer} share. */
const WATCH_OPTIONS = optionNames<WatchOptions>({
  headroom: true,
  retryDelay: true,
  checkInterval: true,
  announcePause: true,
  refuse: true,
  keepNewest: true,
  onListening: true,
  scheduler: true,
});
const LISTEN_OPTIONS = [...WATCH_OPTIONS, ...optionNames<Omit<ListenOptions, keyof WatchOptions>>({ port: true, host: true, path: true, backlog: true, reusePort: true, server: true })];
const FROM_SERVER_OPTIONS = [...WATCH_OPTIONS, 'backlog', 'reusePort'];

/**
 * A TCP or Unix-socket listener as an Observable of accept results. Each subscription creates
 * its own `net.Server`, listens, emits every accepted connection and accept error as a value,
 * and closes the server on unsubscribe. A failure to listen at start (EADDRINUSE, EACCES,
 * EADDRNOTAVAIL, ...) errors the Observable with a {@link ListenError} carrying a hint.
 *
 * Pausing (through {@link ListenerControl.pause}) closes the listening socket: Node has no way
 * to stop accept(2) on an open one, and accepting-then-closing costs a core under a flood.
 * While paused, new TCP clients are refused (ECONNREFUSED), connections already queued in the
 * kernel backlog are reset (unless `refuse` answers them first: a pause then empties the
 * queue before it closes), and a Unix socket's path is gone (ENOENT). Connections already
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
 * @throws {TypeError | RangeError} At call time, on options that are not an object, an unknown
 *   option, or an option missing, of the wrong type or out of range, naming it and its value.
 */
export function listen(options: ListenOptions): Observable<AcceptResult> {
  const where = checkAddress(options);
  checkWatchOptions('listen', options);
  return new Observable<AcceptResult>((subscriber) => {
    const server = createServer(options.server);
    const teardown = watch(server, subscriber, { ...options, start: where });
    return () => {
      teardown();
      server.close();
    };
  });
}

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
 * @throws {TypeError | RangeError} At call time, on a `server` that is not a `net.Server`,
 *   options that are not an object, an unknown option, or an option of the wrong type or out of
 *   range, naming it and its value.
 */
export function fromServer(server: Server, options: WatchOptions & { backlog?: number; reusePort?: boolean } = {}): Observable<AcceptResult> {
  if (!(server instanceof NetServer)) throw new TypeError(`fromServer: server must be a net.Server, got ${String(server)}`);
  checkKnownOptions('fromServer: options', options, FROM_SERVER_OPTIONS);
  checkWatchOptions('fromServer', options);
  if (options.backlog !== undefined) checkInteger('fromServer: options.backlog', options.backlog, 1);
  if (options.reusePort !== undefined) checkBoolean('fromServer: options.reusePort', options.reusePort);
  return new Observable<AcceptResult>((subscriber) => watch(server, subscriber, options));
}

function checkAddress(options: ListenOptions): Where {
  checkKnownOptions('listen: options', options, LISTEN_OPTIONS, 'an object with a port or a path');
  const { port, host, path, backlog, reusePort, server } = options;
  if (port === undefined && path === undefined) throw new TypeError('listen: options.port or options.path is required');
  if (port !== undefined && path !== undefined) throw new TypeError('listen: options.port and options.path exclude each other');
  if (port !== undefined) checkInteger('listen: options.port', port, 0, 65535);
  if (path !== undefined) checkString('listen: options.path', path);
  if (host !== undefined) checkString('listen: options.host', host);
  if (backlog !== undefined) checkInteger('listen: options.backlog', backlog, 1);
  if (server !== undefined) checkOptions('listen: options.server', server);
  if (reusePort !== undefined) {
    checkBoolean('listen: options.reusePort', reusePort);
    if (path !== undefined) throw new TypeError('listen: options.reusePort applies to a TCP port, not to options.path');
  }
  return path !== undefined ? { path, backlog } : { port, host, backlog, reusePort };
}

function checkWatchOptions(caller: string, options: WatchOptions): void {
  if (options.headroom !== undefined) checkInteger(`${caller}: options.headroom`, options.headroom, 0);
  if (options.retryDelay !== undefined) checkDelay(`${caller}: options.retryDelay`, options.retryDelay);
  if (options.announcePause !== undefined) checkDelay(`${caller}: options.announcePause`, options.announcePause);
  if (options.checkInterval !== undefined) checkInteger(`${caller}: options.checkInterval`, options.checkInterval, 0);
  if (options.onListening !== undefined) checkFunction(`${caller}: options.onListening`, options.onListening);
  if (options.refuse !== undefined) checkFunction(`${caller}: options.refuse`, options.refuse);
  if (options.scheduler !== undefined) checkScheduler(`${caller}: options.scheduler`, options.scheduler);
  const keep = options.keepNewest;
  if (keep !== undefined) {
    checkKnownOptions(`${caller}: options.keepNewest`, keep, ['ms', 'holdMs']);
    if (options.refuse === undefined) throw new TypeError(`${caller}: options.keepNewest needs options.refuse (it keeps some of what a pause would refuse)`);
    checkInteger(`${caller}: options.keepNewest.ms`, keep.ms, 1);
    if (keep.holdMs !== undefined) checkInteger(`${caller}: options.keepNewest.holdMs`, keep.holdMs, 1);
  }
}
