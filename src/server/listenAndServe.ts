import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createNetServer, Server as NetServer, type AddressInfo, type ServerOpts, type Socket } from 'node:net';
import type { Subscription } from 'rxjs';
import { agentCheck } from '../balancer/agentCheck';
import { drain } from '../balancer/drain';
import { healthCheck } from '../balancer/healthCheck';
import type { LoopStatus } from '../balancer/loopStatus';
import { ListenError } from '../errors/listenError';
import type { AcceptError } from '../errors/result';
import type { Limiter } from '../limit/limiter';
import type { Metrics } from '../metrics/metrics';
import { serve } from '../operators/serve';
import { handTo } from '../protocol/handTo';
import { listen } from '../source/listen';
import { checkBoolean, checkInteger, checkKnownOptions, checkString } from '../util/validate';
import { acceptLoopAs, ACCEPT_LOOP_OPTIONS, type AcceptLoopOptions } from './acceptLoop';
import { logFunction } from './log';

/** Options of {@link listenAndServe}: where, the loop's policy ({@link AcceptLoopOptions}), the side ports, the shutdown. */
export interface ListenAndServeOptions extends AcceptLoopOptions {
  /** The TCP port, 0 to 65535 (0 picks a free one). One of `port` and `path` is required. */
  port?: number;
  /** Default: all interfaces, as `net.Server.listen`. The side ports listen here too. */
  host?: string;
  /** A Unix socket path, instead of a port. */
  path?: string;
  /** The kernel's queue of connections not yet accepted. Default 511, as Node. */
  backlog?: number;
  /** Share the port with other processes (SO_REUSEPORT; Node >= 22.12, Linux). Default false. */
  reusePort?: boolean;
  /**
   * On SIGTERM or {@link Serving.close}, go on serving (readiness failing, the agent saying `drain`, `Connection: close`
   * so a balancer's kept-alive connections close first) until nothing arrives for `drainQuietMs`, at most this long, ms. Default 5000; 0: stop at once.
   */
  drainMs?: number;
  /** Traffic has stopped when nothing arrived for this long, ms. Default 1000. */
  drainQuietMs?: number;
  /** After accepting stopped, how long live connections may take to finish before they are closed, ms. Default 10 000. */
  graceMs?: number;
  /** Serve `/live`, `/ready` and `/metrics` (Prometheus) on this port, never limited or paused. Default: none. */
  healthPort?: number;
  /** Answer HAProxy's agent check on this port (`up`, `drain`, a weight). Default: none. */
  agentPort?: number;
  /** The capacity, exchanges a second of running time, that earns the agent's full weight. Default: the weight follows headroom only. */
  agentFullWeightAt?: number;
  /** Handle SIGTERM (drain, then shut down) and SIGINT (no drain; a second ends the process) until closed. Default true; false: call {@link Serving.close}. */
  signals?: boolean;
}

/** Where {@link listenAndServe} listens, once it does. */
export interface ServingAddresses {
  /** The server's address: a port and host, or a Unix socket path. */
  readonly address: AddressInfo | string;
  /** The health port's, with `healthPort`. */
  readonly healthAddress?: AddressInfo;
  /** The agent port's, with `agentPort`. */
  readonly agentAddress?: AddressInfo;
}

/** A running {@link listenAndServe}. */
export interface Serving {
  /** Resolves once every port listens; rejects with a {@link ListenError} (with its hint) if one cannot, after closing the others. */
  readonly ready: Promise<ServingAddresses>;
  /** The loop's state for balancers (phase, headroom). */
  readonly status: LoopStatus;
  /** The loop's counts: `metrics.snapshot()`, `metrics.every(1000)`. */
  readonly metrics: Metrics;
  /** The loop's limiter: live connections, the limit, the queue. */
  readonly limiter: Limiter;
  /** Shuts down as SIGTERM does (the drain, then the grace); resolves when the last connection has ended. */
  close(): Promise<void>;
  /** Resolves when the server has shut down and nothing of it keeps the process alive; rejects on a fatal error (logged as well). */
  readonly closed: Promise<void>;
}

const OWN_OPTIONS = ['port', 'host', 'path', 'backlog', 'reusePort', 'drainMs', 'drainQuietMs', 'graceMs', 'healthPort', 'agentPort', 'agentFullWeightAt', 'signals'] as const;

/**
 * Serves an existing `http`, `https`, `http2`, `tls` or `net` server (one that never listens itself) on a production
 * accept loop ({@link acceptLoop}), with health and agent ports for the balancers and a drain on SIGTERM. It never calls `process.exit`.
 *
 * @example
 * const app = createServer((request, response) => response.end('hello\n'));
 * const server = listenAndServe(app, { port: 8080, healthPort: 9090 });
 * const { address } = await server.ready;
 *
 * @param server The server to hand connections to; its socket options (`allowHalfOpen`, `noDelay`, `keepAlive`) are the listener's.
 * @throws {TypeError | RangeError} At call time, on a server that listens, an unknown option or a value out of range, naming it.
 */
export function listenAndServe(server: NetServer, options: ListenAndServeOptions): Serving {
  if (!(server instanceof NetServer)) throw new TypeError(`listenAndServe: server must be a net.Server (http, https, http2, tls or net), got ${server === null ? 'null' : typeof server}`);
  if (server.listening) throw new TypeError('listenAndServe: server must not listen itself (connections are accepted here and handed to it): remove its listen() call');
  checkKnownOptions('listenAndServe: options', options, [...ACCEPT_LOOP_OPTIONS, ...OWN_OPTIONS]);
  const name = (option: string): string => `listenAndServe: options.${option}`;
  const port = (option: 'port' | 'healthPort' | 'agentPort'): number | undefined => (options[option] === undefined ? undefined : checkInteger(name(option), options[option], 0, 65535));
  const { host, path } = options;
  if (host !== undefined) checkString(name('host'), host);
  if (path !== undefined) checkString(name('path'), path);
  if ((options.port === undefined) === (path === undefined)) throw new TypeError(`listenAndServe: options must have one of port and path, got ${path === undefined ? 'neither' : 'both'}`);
  const where = path === undefined ? { port: port('port'), host } : { path };
  const healthPort = port('healthPort');
  const agentPort = port('agentPort');
  const optional = (option: 'drainMs' | 'drainQuietMs' | 'graceMs' | 'agentFullWeightAt' | 'backlog', min: number): number | undefined =>
    options[option] === undefined ? undefined : checkInteger(name(option), options[option], min);
  const drainMs = optional('drainMs', 0) ?? 5000;
  const drainQuietMs = optional('drainQuietMs', 1) ?? 1000;
  const graceMs = optional('graceMs', 0) ?? 10_000;
  const fullWeightAt = optional('agentFullWeightAt', 1);
  if (fullWeightAt !== undefined && agentPort === undefined) throw new TypeError(`${name('agentFullWeightAt')} weighs the answers on the agent port: give options.agentPort too`);
  const backlog = optional('backlog', 1);
  const reusePort = options.reusePort === undefined ? undefined : checkBoolean(name('reusePort'), options.reusePort);
  const signals = options.signals === undefined ? true : checkBoolean(name('signals'), options.signals);
  const log = logFunction(options.logger, name('logger'));
  // Behind an agent-reading balancer with no PROXY header, every connection has the balancer's address: none to shed.
  const loop = acceptLoopAs('listenAndServe', { shedHeaviest: options.proxyProtocol === true || agentPort === undefined, ...options }, log);
  const { status, metrics, limiter } = loop;

  // The side ports: what balancers and the orchestrator read, never limited or paused.
  const sockets = new Set<Socket>();
  const sides: [keyof ServingAddresses, NetServer, number][] = [];
  if (healthPort !== undefined) sides.push(['healthAddress', createHttpServer(healthCheck(status)), healthPort]);
  if (agentPort !== undefined) sides.push(['agentAddress', createNetServer(agentCheck(status, { fullWeightAt })), agentPort]);
  const sidesListening = Promise.all(
    sides.map(async ([key, side, port]) => {
      side.on('connection', (socket: Socket) => sockets.add(socket.once('close', () => sockets.delete(socket)))).listen({ port, host });
      // Rejects on the server's 'error', with its hint as the main port's.
      return once(side, 'listening').then(() => [key, side.address() as AddressInfo] as const, (error: unknown) => Promise.reject(asListenError(error)));
    }),
  );
  sidesListening.catch((error: unknown) => stop(error)); // a side port failed: close the rest

  let listening: (address: AddressInfo | string) => void;
  const mainListening = new Promise<AddressInfo | string>((resolve) => (listening = resolve));
  let failed: (error: unknown) => void;
  const failure = new Promise<never>((_, reject) => (failed = reject));
  // Not handled here: a failure to listen ignored ends the process (Node's unhandled rejection) rather than exit 0 quietly.
  const ready = Promise.race([Promise.all([mainListening, sidesListening]), failure]).then(([address, side]) => ({ address, ...Object.fromEntries(side) }) as ServingAddresses);

  const shutdown = new AbortController();
  let finished: (error?: unknown) => void;
  const closed = new Promise<void>((resolve, reject) => (finished = (error) => (error === undefined ? resolve() : reject(error))));
  closed.catch(() => undefined); // a fatal error is logged and rejects `ready` too; awaiting `closed` is optional
  const own = server as NetServer & { allowHalfOpen?: boolean; noDelay?: boolean; keepAlive?: boolean; keepAliveInitialDelay?: number };
  // The sockets this listener makes are the server's: made as it would make its own (http: allowHalfOpen, noDelay).
  const socketOptions: ServerOpts = { allowHalfOpen: own.allowHalfOpen, noDelay: own.noDelay, keepAlive: own.keepAlive, keepAliveInitialDelay: (own.keepAliveInitialDelay ?? 0) * 1000 };
  let ended = false; // the pipeline has completed (the last connection ended) or failed
  const serving = listen({ ...where, backlog, reusePort, server: socketOptions, ...loop.listenOptions, onListening: (address) => listening(address) })
    .pipe(loop, serve(handTo(server), { signal: shutdown.signal, graceMs }))
    .subscribe({ error: (error: unknown) => stop(error, true), complete: () => stop(undefined, true) });

  let draining: Subscription | undefined;
  let stopped = false;
  let error: unknown;
  let closing = false;
  /** Stops accepting; once the pipeline has `ended` (live connections finished within graceMs), closes the side ports. A failure stops at once. */
  function stop(failedWith?: unknown, pipelineEnded = false): void {
    if (pipelineEnded) ended = true;
    if (failedWith !== undefined && error === undefined) {
      error = asListenError(failedWith);
      log('error', `listenAndServe: ${error instanceof Error ? error.message : String(error)}`, {});
      failed(error);
    }
    if (!stopped) {
      stopped = true;
      draining?.unsubscribe();
      status.stop();
      shutdown.abort();
    }
    if (error !== undefined && !ended) {
      ended = true;
      serving.unsubscribe(); // nothing left to finish
    }
    if (!ended || closing) return;
    closing = true;
    process.off('SIGTERM', onTerm).off('SIGINT', onInt);
    for (const socket of sockets) socket.destroy();
    // A turn later: the listening socket closed by the pipeline's teardown is gone by then.
    void Promise.all(sides.map(([, side]) => new Promise((resolve) => side.close(resolve)))).then(() => setImmediate(() => finished(error)));
  }

  function close(drainFor = drainMs): Promise<void> {
    if (stopped || (draining !== undefined && drainFor > 0)) return closed;
    if (drainFor === 0) {
      log('info', `stopping: ${limiter.live} live connections, up to ${graceMs} ms to finish`, { live: limiter.live, graceMs });
      stop();
    } else {
      log('info', `draining: ${limiter.live} live connections; serving until nothing arrives for ${drainQuietMs} ms, up to ${drainFor} ms`, { live: limiter.live, drainMs: drainFor, drainQuietMs });
      draining = drain(status, { maxMs: drainFor, quietMs: drainQuietMs }).subscribe(() => void close(0));
    }
    return closed;
  }

  const onTerm = (): void => void close();
  const onInt = (): void => void close(0);
  if (signals) process.on('SIGTERM', onTerm).once('SIGINT', onInt); // once: a second SIGINT ends the process, as Node would

  return { ready, status, metrics, limiter, close: () => close(), closed };
}

/** A system error (with a code) made a ListenError, with its hint; told by its fields: one from another realm (a vm context) fails `instanceof Error`. */
function asListenError(error: unknown): unknown {
  const errno = typeof error === 'object' && error !== null && typeof (error as AcceptError).code === 'string' && typeof (error as Error).message === 'string';
  return error instanceof ListenError || !errno ? error : new ListenError(error as AcceptError);
}
