import { createServer, Server as NetServer, type Server, type ServerOpts } from 'node:net';
import { Observable } from 'rxjs';
import type { AcceptResult } from '../errors/result';
import { checkBoolean, checkDelay, checkFunction, checkInteger, checkKnownOptions, checkOptions, checkScheduler, checkString, optionNames } from '../util/validate';
import { watch, type WatchConfig, type WatchOptions, type Where } from './watch';

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
   * Lets several processes listen on this TCP port (SO_REUSEPORT); a paused process leaves the
   * group and rejoins it. Node >= 22.12 (or 23.1) on Linux 3.9+ or a BSD; older Node ignores it. Default false.
   */
  reusePort?: boolean;
  /**
   * Options for the `net.Server` this creates; for sockets handed to an `http.Server`,
   * `{ allowHalfOpen: true, noDelay: true }` as it makes its own (else half-closes and small responses differ).
   */
  server?: ServerOpts;
}

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
 * and closes the server on unsubscribe; a failure to listen at start errors it with a {@link ListenError}.
 * Pausing ({@link ListenerControl.pause}) closes the listening socket (Node cannot stop accept(2)
 * on an open one); resuming listens again on the same address and port, a failure emitted with
 * `during: 'resume'` and retried, or as a {@link ListenError} where it cannot pass (EACCES, EPERM).
 * See docs/errors.md, "What a client sees while the listener is paused" and "The port while paused".
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
 * Watches a `net.Server` (or `http.Server`, `tls.Server`, ...) the caller owns, listening before or
 * after subscribing, as {@link listen} does its own. Unsubscribing removes only the listeners it
 * added: the server stays open, or closed if paused then; add your own `'error'` listener if it lives on.
 *
 * @param server The server; its own `'connection'` listeners still run.
 * @param options How to watch for shortage; `backlog` and `reusePort` (see {@link ListenOptions}) as the
 *   server first listened (Node does not tell), to listen again after a pause.
 * @returns An Observable of {@link AcceptResult}; it never completes by itself.
 * @throws {TypeError | RangeError} At call time, on a `server` that is not a `net.Server`, or
 *   options as {@link listen}.
 */
export function fromServer(server: Server, options: WatchOptions & { backlog?: number; reusePort?: boolean } = {}): Observable<AcceptResult> {
  if (!(server instanceof NetServer)) throw new TypeError(`fromServer: server must be a net.Server, got ${String(server)}`);
  checkKnownOptions('fromServer: options', options, FROM_SERVER_OPTIONS);
  checkWatchOptions('fromServer', options);
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
  if (server !== undefined) checkOptions('listen: options.server', server);
  if (reusePort !== undefined && path !== undefined) throw new TypeError('listen: options.reusePort applies to a TCP port, not to options.path');
  return path !== undefined ? { path, backlog } : { port, host, backlog, reusePort };
}

function checkWatchOptions(caller: string, options: WatchConfig): void {
  if (options.backlog !== undefined) checkInteger(`${caller}: options.backlog`, options.backlog, 1);
  if (options.reusePort !== undefined) checkBoolean(`${caller}: options.reusePort`, options.reusePort);
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
