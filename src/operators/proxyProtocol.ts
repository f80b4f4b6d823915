import type { Socket } from 'node:net';
import { asyncScheduler, type Observable, type OperatorFunction, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { Accepted } from '../errors/result';
import { parseProxyHeader } from '../protocol/proxyHeader';
import { actAs } from '../protocol/proxyPeer';
import { parseAddressList } from '../util/addresses';
import { checkFunction, checkInteger, checkKnownOptions, checkOneOf, checkScheduler, optionNames } from '../util/validate';
import { forward, operate } from './internal/operate';

/** Options of {@link proxyProtocol}. */
export interface ProxyProtocolOptions {
  /** The proxies, the only ones whose connections carry a header: addresses and CIDR ranges (`'10.0.0.0/8'`, `'fd00::/8'`), an array or a string. */
  trusted: string | readonly string[];
  /** A connection from any other address: `'refuse'` (closed at once) or `'direct'` (served with its own address). Default `'refuse'`. */
  untrusted?: 'refuse' | 'direct';
  /** How long a proxy's connection may take to send its whole header, ms; then it is closed. Default 3000. */
  headerTimeout?: number;
  /** Called with why (`'untrusted'`, `'timeout'`, the parser's reason) before a connection is closed here; what it throws errors the stream. */
  onRefused?: (reason: string, socket: Socket) => void;
  /** Where header timeouts are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<ProxyProtocolOptions>({ trusted: true, untrusted: true, headerTimeout: true, onRefused: true, scheduler: true });

/**
 * Reads the PROXY protocol header (v1 or v2) that a load balancer sends first on each
 * connection, and emits the connection as the client's: `socket.remoteAddress`, `remotePort` and
 * `remoteFamily` say the client's from then on, for {@link index!backpressure}'s per-peer limits,
 * the metrics and the application. The header's other fields are {@link proxyHeaderOf}.
 *
 * Each connection from a `trusted` address must start with a valid header (the spec: a
 * receiver must not guess), complete within `headerTimeout`, or it is closed; a LOCAL header (a
 * health check) keeps the connection's own address. The bytes after the header are put back on
 * the socket. Connections wait here without a slot: place it before {@link index!backpressure}.
 *
 * ```
 * accepted: -a-b---|         a from a trusted proxy, its header split in two reads; b untrusted
 * output:   ----a--|         b closed ('untrusted'); a emitted once its header is whole
 * ```
 *
 * @example
 * listen({ port: 8080 }).pipe(handleErrors(), proxyProtocol({ trusted: '10.0.0.0/8' }), backpressure(limiter), serve(handTo(app)))
 *   .subscribe();
 * // Output: app sees req.socket.remoteAddress === the client's address, not the balancer's.
 *
 * @throws {TypeError | RangeError} At call time, on options that are not an object, an unknown
 *   option, or an option of the wrong type or out of range, naming it and its value.
 */
export function proxyProtocol<C extends Accepted>(options: ProxyProtocolOptions): OperatorFunction<C, C> {
  checkKnownOptions('proxyProtocol: options', options, OPTIONS);
  const trusted = parseAddressList(options.trusted, 'proxyProtocol: options.trusted');
  const { untrusted = 'refuse', headerTimeout = 3000, onRefused, scheduler = asyncScheduler } = options;
  checkOneOf('proxyProtocol: options.untrusted', untrusted, ['refuse', 'direct']);
  checkInteger('proxyProtocol: options.headerTimeout', headerTimeout, 1);
  if (onRefused !== undefined) checkFunction('proxyProtocol: options.onRefused', onRefused);
  checkScheduler('proxyProtocol: options.scheduler', scheduler);

  return operate((source: Observable<C>, subscriber: Subscriber<C>) => {
    // Connections whose header is on its way, and how to stop waiting for each.
    const pending = new Map<Socket, () => void>();

    const refuse = (socket: Socket, reason: string): void => {
      try {
        onRefused?.(reason, socket);
      } finally {
        socket.destroy();
      }
    };

    const readHeader = (connection: C): void => {
      const { socket } = connection;
      let buffered: Buffer = Buffer.alloc(0);
      let timer: Subscription | undefined;
      const stop = (): void => {
        pending.delete(socket);
        timer?.unsubscribe();
        socket.off('readable', onReadable);
        socket.off('close', stop);
        socket.off('error', onError);
      };
      // Called from events and the timer: what onRefused throws errors the stream, not the process.
      const fail = (reason: string): void => {
        stop();
        try {
          refuse(socket, reason);
        } catch (error) {
          subscriber.error(error);
        }
      };
      // 'readable' and read(), not 'data': out of flowing mode, the bytes after the header wait
      // in the socket for whoever reads it next (after the wait queue), instead of flowing to nobody.
      function onReadable(): void {
        for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) {
          buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        }
        const result = parseProxyHeader(buffered);
        if (result.state === 'incomplete') return;
        if (result.state === 'invalid') return fail(result.reason);
        stop();
        const rest = buffered.subarray(result.length);
        if (rest.length > 0) socket.unshift(rest);
        actAs(socket, result.header);
        subscriber.next(connection);
      }
      function onError(): void {} // a reset while reading the header: 'close' follows
      pending.set(socket, stop);
      socket.on('readable', onReadable);
      socket.on('close', stop); // the proxy left before its header was whole: nothing to serve
      socket.on('error', onError);
      timer = scheduler.schedule(() => fail('timeout'), headerTimeout);
    };

    subscriber.add(
      source.subscribe(
        forward(subscriber, (connection) => {
          const { socket } = connection;
          if (socket.closed) return;
          if (trusted(socket.remoteAddress)) return readHeader(connection);
          if (untrusted === 'direct') return subscriber.next(connection);
          refuse(socket, 'untrusted');
        }),
      ),
    );
    return () => {
      // Connections still waiting for their header are not passed on: close them.
      for (const [socket, stop] of [...pending]) {
        stop();
        socket.destroy();
      }
    };
  });
}
