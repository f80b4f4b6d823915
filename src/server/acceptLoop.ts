import type { Socket } from 'node:net';
import { defer, identity, map, Observable, Subscription, type MonoTypeOperatorFunction, type OperatorFunction } from 'rxjs';
import type { Accepted, AcceptResult } from '../errors/result';
import { LoopStatus } from '../balancer/loopStatus';
import { Limiter } from '../limit/limiter';
import { Metrics } from '../metrics/metrics';
import { backpressure, type Admitted } from '../operators/backpressure';
import { handleErrors } from '../operators/handleErrors';
import { silenceTimeout } from '../operators/silenceTimeout';
import { logWarnings } from '../operators/logWarnings';
import { pauseUnderPressure, type Pressure, type PressureWarning } from '../operators/pauseUnderPressure';
import { proxyProtocol } from '../operators/proxyProtocol';
import { adaptiveLimit } from '../overload/adaptiveLimit';
import { acceptQueueMs } from '../overload/monitors/acceptQueue';
import { eventLoopUtilization } from '../overload/monitors/eventLoopUtilization';
import { heapUsedMiB, rssMiB } from '../overload/monitors/memory';
import { serviceTimeMs } from '../overload/monitors/serviceTime';
import { targetLimit } from '../overload/targetLimit';
import { serviceUnavailable } from '../protocol/serviceUnavailable';
import { QueueFlush } from '../source/queueFlush';
import type { WatchOptions } from '../source/watch';
import { parseAddressList } from '../util/addresses';
import { checkBoolean, checkInteger, checkKnownOptions, checkNumber } from '../util/validate';
import { logFunction, type LogFunction, type Logger } from './log';

// A turn this long, ms per connection taken, is serving work, not only taking connections (~0.3-0.5 ms).
const SLOW_TURN_MS = 2;

/**
 * The accept queue's streak while turns serve work, read only while pauses find an excess. Pausing sooner pays when a
 * pause finds more queued than its batch keeps: the rest, answered 503, are told sooner. While pauses find no excess
 * (the batch kept all there was: about 1x-1.25x of capacity), pausing sooner only refused clients the loop would have
 * served (0.80-0.91 of capacity on Node 20, bench/RESULTS.md 19): a streak then reads 0 here, and the T/2 signal decides.
 * Judged as each slow streak begins: did the flushes refuse anyone since the last one began (the first one: since the
 * watch began)? A fresh process's first stall is no excess: at half the capacity, a stall of ~40 ms (Node 26) paused
 * a demo through this signal, none other being above its threshold, and 3 clients were refused (bench/RESULTS.md 20).
 */
function busyTurnsWithExcess(): Observable<number> {
  return defer(() => {
    let refusedBefore = QueueFlush.refusedInProcess;
    let excess = false;
    let streak = false;
    return acceptQueueMs({ every: 5, minTurnMs: SLOW_TURN_MS }).pipe(
      map((ms) => {
        if (ms > 0 && !streak) {
          const refused = QueueFlush.refusedInProcess;
          excess = refused > refusedBefore;
          refusedBefore = refused;
        }
        streak = ms > 0;
        return excess ? ms : 0;
      }),
    );
  });
}

/** The accept loop's policy: the options of {@link acceptLoop}, and of `listenAndServe` besides its own. */
export interface AcceptLoopOptions {
  /** Live connections at most, an integer >= 1. Default 1000. */
  limit?: number;
  /** Connections beyond the limit wait in a queue of this many (first in, first out); beyond it they are refused. Default 511. */
  queueSize?: number;
  /** A connection that waited this long in the queue is answered `503`, ms. Default 10 000. */
  queueTimeoutMs?: number;
  /** Live connections at most from one client address. Default: no bound. */
  perPeer?: number;
  /** New connections a second at most from one client address (a token bucket, the burst the same). Default: no bound. */
  perPeerRate?: number;
  /** A connection silent for this long (no byte either way) is closed, ms. Default: never. */
  silenceMs?: number;
  /** The longest an admitted request should wait for the event loop, ms: beyond it, `503`s (the connection kept), then a pause (docs/overload.md). Default 100; 0: none. */
  maxLagMs?: number;
  /** Pause accepting while event-loop utilization is above this share, above 0, at most 1. Default: not watched. */
  maxElu?: number;
  /** Pause accepting while the V8 heap used is above this many MiB. Default: not watched. */
  maxHeapMb?: number;
  /** Pause accepting while resident memory is above this many MiB. Default: not watched. */
  maxRssMb?: number;
  /** How long a shortage (EMFILE, ENFILE, ENOBUFS, ENOMEM) pauses accepting, and the shortest pause under pressure, ms. Default 500 (under pressure: 10). */
  pauseMs?: number;
  /** Read a PROXY protocol header (v1 or v2) on connections from `trustedProxies`: the client's address for the limits. Default false. */
  proxyProtocol?: boolean;
  /** The proxies allowed to send one: addresses and CIDR ranges. Default loopback (`127.0.0.1`, `::1`). */
  trustedProxies?: string | readonly string[];
  /** Under overload, refuse first the addresses that bring most new connections, pause only when none stands out. Default true; off behind a balancer that sends no PROXY header. */
  shedHeaviest?: boolean;
  /** Behind a balancer that reads the loop's state: announce a pause this long (the agent says `drain`) before the listening socket closes, ms. Default 0. */
  announcePauseMs?: number;
  /** Where shortages and overload are logged: a pino logger, a function, or false. Default: a line on stderr. */
  logger?: Logger;
}

/** {@link acceptLoop}'s operator, with the parts of the loop a server reads, and what `listen` needs for the same policy. */
export interface AcceptLoop extends OperatorFunction<AcceptResult, Admitted> {
  /** The loop's limiter: live connections, the limit, the queue, the counts. */
  readonly limiter: Limiter;
  /** The loop's counts (`metrics.snapshot()`, `metrics.every(ms)`, `toPrometheus`). */
  readonly metrics: Metrics;
  /** The loop's state for load balancers (`healthCheck`, `agentCheck`, `drain`). */
  readonly status: LoopStatus;
  /** Spread into `listen`'s options: how a pause empties the accept queue without resetting anyone. */
  readonly listenOptions: Pick<WatchOptions, 'refuse' | 'keepNewest' | 'announcePause'>;
}

/** The option names {@link acceptLoop} takes (listenAndServe takes these and its own). */
export const ACCEPT_LOOP_OPTIONS = [
  'limit', 'queueSize', 'queueTimeoutMs', 'perPeer', 'perPeerRate', 'silenceMs', 'maxLagMs', 'maxElu', 'maxHeapMb', 'maxRssMb',
  'pauseMs', 'proxyProtocol', 'trustedProxies', 'shedHeaviest', 'announcePauseMs', 'logger',
] as const;

/**
 * Everything between a listener and the handlers, as one operator (`listenAndServe` is this around an existing server):
 * `[memory pause] -> metrics -> logWarnings -> handleErrors -> [proxyProtocol] -> [CPU pause, heaviest shed] -> backpressure -> [silenceTimeout]`.
 *
 * @example
 * const loop = acceptLoop({ limit: 1000, maxLagMs: 100 });
 * listen({ port: 8080, ...loop.listenOptions }).pipe(loop, serve(handTo(app))).subscribe();
 *
 * @returns The operator, with its limiter, metrics and status; it learns its limits while subscribed: subscribe it once.
 * @throws {TypeError | RangeError} At call time, on an unknown option or a value out of range, naming it.
 */
export function acceptLoop(options: AcceptLoopOptions = {}): AcceptLoop {
  return acceptLoopAs('acceptLoop', checkKnownOptions('acceptLoop: options', options, ACCEPT_LOOP_OPTIONS));
}

/** {@link acceptLoop} for a caller whose errors name it (`listenAndServe: options.limit ...`), its options and its `log` already checked. */
export function acceptLoopAs(caller: string, options: AcceptLoopOptions, log?: LogFunction): AcceptLoop {
  const name = (option: string): string => `${caller}: options.${option}`;
  const optional = <T>(option: keyof AcceptLoopOptions, check: (name: string, value: unknown) => T): T | undefined =>
    options[option] === undefined ? undefined : check(name(option), options[option]);
  const positive = (n: string, v: unknown): number => checkInteger(n, v, 1);
  const limit = optional('limit', positive) ?? 1000;
  const queueSize = optional('queueSize', (n, v) => checkInteger(n, v, 0)) ?? 511;
  const queueTimeoutMs = optional('queueTimeoutMs', positive) ?? 10_000;
  const perPeer = optional('perPeer', positive);
  const perPeerRate = optional('perPeerRate', positive);
  const silenceMs = optional('silenceMs', positive);
  const maxLagMs = optional('maxLagMs', (n, v) => checkInteger(n, v, 0)) ?? 100;
  const maxElu = optional('maxElu', (n, v) => checkNumber(n, v, { above: 0, max: 1 }));
  const maxHeapMb = optional('maxHeapMb', positive);
  const maxRssMb = optional('maxRssMb', positive);
  const pauseMs = optional('pauseMs', (n, v) => checkInteger(n, v, 0));
  const useProxyProtocol = optional('proxyProtocol', checkBoolean) ?? false;
  const shedHeaviest = optional('shedHeaviest', checkBoolean) ?? true;
  const announcePause = optional('announcePauseMs', (n, v) => checkInteger(n, v, 0)) ?? 0;
  log ??= logFunction(options.logger, name('logger'));
  const trusted = options.trustedProxies ?? ['127.0.0.1', '::1'];
  // Checked under this option's name first; proxyProtocol then parses the same list again.
  if (useProxyProtocol) parseAddressList(trusted, name('trustedProxies'));
  const readProxyHeader = useProxyProtocol ? proxyProtocol({ trusted }) : identity;

  // The overload policy measured in bench/RESULTS.md sections 17 and 19. With maxLagMs T: a request reached more than T/3
  // into a busy turn is answered 503, its connection kept; no more exchanges in flight than finish within T (idle keep-alive
  // not counted); an accept queue that held a connection at every turn for T/3 while the turns served work (2 ms or more a
  // turn) and pauses found an excess, or for T/2 however short they were (a T/4 threshold paused on a burst of 100 idle
  // connects), pauses the listener, its newest 2T/3 kept as a batch (their first requests admitted whatever the turn),
  // the rest answered 503. ELU over 20 ms; the heap every 100 ms (a handler can pass V8's limit within a second), RSS
  // every 1 s, after a GC above the resume mark (paused, nothing allocates). The limit follows the heap only without
  // maxLagMs: two learners would overwrite each other.
  const queueMs = Math.max(1, Math.round(maxLagMs / 2));
  const cpu: Pressure[] = [];
  if (maxLagMs > 0) {
    cpu.push({ name: 'acceptQueue', samples: acceptQueueMs(5), above: queueMs, below: 0, unit: 'ms' });
    cpu.push({ name: 'acceptQueueBusyTurns', samples: busyTurnsWithExcess(), above: Math.max(1, Math.round(maxLagMs / 3)), below: 0, unit: 'ms' });
  }
  if (maxElu !== undefined) cpu.push({ name: 'eventLoopUtilization', samples: eventLoopUtilization(20), above: maxElu });
  const heap = maxHeapMb === undefined ? undefined : heapUsedMiB({ every: 100, collectAbove: maxHeapMb * 0.8 });
  const memory: Pressure[] = [];
  if (heap !== undefined) memory.push({ name: 'heapUsed', samples: heap, above: maxHeapMb!, unit: 'MiB' });
  if (maxRssMb !== undefined) memory.push({ name: 'rss', samples: rssMiB({ every: 1000, collectAbove: maxRssMb * 0.8 }), above: maxRssMb, unit: 'MiB' });
  // Every refusal is readable: a 503 with Retry-After, never a reset.
  const refuse = serviceUnavailable();
  const limiter = new Limiter(limit, {
    perPeer,
    perPeerRate: perPeerRate === undefined ? undefined : { rate: perPeerRate },
    queueSize,
    queueTimeout: queueTimeoutMs,
    onQueueTimeout: refuse,
    maxWaitMs: maxLagMs > 0 ? Math.max(1, Math.round(maxLagMs / 3)) : undefined,
    refuse,
  });
  const metrics = new Metrics(limiter);
  const status = new LoopStatus(metrics, limiter);
  const onPause = (w: PressureWarning): void => log('warn', w.message, { signal: w.signal, value: w.value, threshold: w.threshold, hint: w.hint, suppressed: w.suppressed, shed: w.shed });
  const pressured = <R extends Pick<Accepted, 'listener'>>(pressures: Pressure[], heaviest: boolean): MonoTypeOperatorFunction<R> =>
    pressures.length === 0 ? identity : pauseUnderPressure<R>(pressures, { minPause: pauseMs ?? 10, onPause, logWindow: 1000, shedHeaviest: heaviest ? limiter : undefined });
  const shortagePause = pauseMs ?? 500;

  const operator = (source: Observable<AcceptResult>): Observable<Admitted> =>
    new Observable<Admitted>((subscriber) => {
      const running = new Subscription();
      const learner =
        maxLagMs > 0
          ? targetLimit(limiter, serviceTimeMs(limiter), { target: maxLagMs })
          : heap === undefined
            ? undefined
            : adaptiveLimit(limiter, heap, { target: maxHeapMb! * 0.8, decrease: 0.5 });
      if (learner !== undefined) running.add(learner.subscribe({ error: (error: unknown) => subscriber.error(error) }));
      const admitted = source.pipe(
        // Memory before anything reads the connection (whoever sends it, what is admitted allocates); CPU after
        // the PROXY header, so that the heaviest clients are told apart by their own addresses.
        pressured(memory, false),
        metrics.count(),
        logWarnings((w) => log('warn', w.message, { code: w.code, syscall: w.syscall, during: w.during, hint: w.hint, suppressed: w.suppressed, pauseMs: shortagePause }), { window: shortagePause }),
        handleErrors(shortagePause),
        readProxyHeader,
        pressured(cpu, shedHeaviest),
        backpressure(limiter),
        silenceMs === undefined ? identity : silenceTimeout(silenceMs),
      );
      running.add(admitted.subscribe(subscriber));
      return running;
    });
  // A pause's refusals are arrivals too: a client refused while one address flooded alone is seen at once. Not
  // behind a PROXY-protocol balancer: before its header, every connection's address is the balancer's.
  const refuseArrival = useProxyProtocol
    ? refuse
    : (socket: Socket): void => {
        limiter.noteArrival(socket);
        refuse(socket);
      };
  const listenOptions = { refuse: refuseArrival, keepNewest: maxLagMs > 0 ? { ms: Math.max(1, Math.round((2 * maxLagMs) / 3)), holdMs: maxLagMs } : undefined, announcePause };
  return Object.assign(operator, { limiter, metrics, status, listenOptions });
}

