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
  /**
   * The proxies: addresses and CIDR ranges, IPv4 and IPv6 (`'127.0.0.1'`, `'10.0.0.0/8'`,
   * `'fd00::/8'`), as an array or a string separated by commas. Only their connections may
   * carry a header, and each of them must: a header is never guessed.
   */
  trusted: string | readonly string[];
  /**
   * A connection from any other address: `'refuse'` (closed at once: a client reaching a port
   * meant for proxies directly is a misconfiguration, or an attempt to claim an address) or
   * `'direct'` (served with its own address, no header read). Default `'refuse'`.
   */
  untrusted?: 'refuse' | 'direct';
  /** How long a proxy's connection may take to send its whole header, ms; then it is closed. Default 3000. */
  headerTimeout?: number;
  /**
   * Called for every connection closed here, with why (`'untrusted'`, `'timeout'`, the
   * parser's reason for an invalid header), before the socket is destroyed: to count or log
   * them. An exception it throws errors the stream.
   */
  onRefused?: (reason: string, socket: Socket) => void;
  /** Where header timeouts are timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<ProxyProtocolOptions>({ trusted: true, untrusted: true, headerTimeout: true, onRefused: true, scheduler: true });

/**
 * Reads the PROXY protocol header (HAProxy's v1 text or v2 binary: `send-proxy`,
 * `send-proxy-v2`, nginx's `proxy_protocol`, AWS NLB) that a load balancer sends first on each
 * connection, and emits the connection as the client's: `socket.remoteAddress`,
 * `remotePort` and `remoteFamily` say the client's address from then on, so the per-peer
 * limits and rates of {@link index!backpressure}, the metrics, the logs and the application (Express's
 * `req.ip`, Fastify's `request.ip`, Koa's `ctx.ip`, without trust-proxy settings) all see the
 * real client. The header's other fields are {@link proxyHeaderOf}.
 *
 * Only connections from `trusted` addresses are read, and each of them must start with a
 * valid header (HAProxy's specification: a receiver must not guess): an invalid one, or one not
 * complete within `headerTimeout`, is closed. A LOCAL header (a balancer's own health check)
 * keeps the connection's own address. The bytes after the header reach the protocol
 * untouched (put back on the socket), and nothing is read past the header before the whole of it
 * has arrived, however it is split. Connections wait here, not holding a slot, until their
 * header is read: place it before {@link index!backpressure}.
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
 * @param options The trusted proxies, what to do with others, the header timeout.
 * @returns An operator from accepted connections to accepted connections, as their clients'.
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
        socket.off('close', onClose);
        socket.off('error', onError);
      };
      // From the socket's events and the timer, out of any RxJS call: what onRefused throws
      // errors the stream here, instead of escaping from an event handler to the process.
      const fail = (reason: string): void => {
        stop();
        try {
          refuse(socket, reason);
        } catch (error) {
          subscriber.error(error);
        }
      };
      // 'readable' and read(), not 'data': the socket is left out of flowing mode, so that the
      // bytes after the header wait in it for whoever reads it next (a server that gets it
      // later, after the wait queue), instead of flowing to nobody.
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
      function onClose(): void {
        stop(); // the client (the proxy) left before its header was whole: nothing to serve
      }
      function onError(): void {} // a reset while reading the header: 'close' follows
      pending.set(socket, stop);
      socket.on('readable', onReadable);
      socket.on('close', onClose);
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
