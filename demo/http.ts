/*
 * One server process: the rxjs-listen accept loop handing sockets to an http.Server that
 * never listens itself. In a cluster, every worker runs this with its own limit and pauses.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server } from 'node:net';
import { identity } from 'rxjs';
import {
  acceptQueueMs, adaptiveLimit, agentCheck, backpressure, drain, healthCheck, LoopStatus, eventLoopUtilization, handleErrors, handTo, heapUsedMiB, idleTimeout, Limiter, listen, logWarnings, Metrics,
  pauseUnderPressure, proxyProtocol, rssMiB, serve, serviceTimeMs, serviceUnavailable, targetLimit, type AcceptStats, type AcceptWarning, type Pressure, type PressureWarning,
} from '../src';
import type { Config } from './flags';

export function runHttpServer(config: Config, onListening: (address: AddressInfo) => void): void {
  const { host, port, limit, perPeer, queue, queueTimeoutMs, keepAliveMs, idleMs, holdMs, busyMs, allocKb, graceMs, drainMs, drainQuietMs } = config;
  const pauseMs = config.pauseMs ?? 500; // on a descriptor shortage

  // pino's JSON lines with --log json, else a text line like nginx's.
  const write = (level: 'warn' | 'stats', text: string, fields: object): void => {
    const json = { level: level === 'warn' ? 40 : 30, time: Date.now(), pid: process.pid, msg: level === 'warn' ? text : 'stats', ...fields };
    console.error(config.log === 'json' ? JSON.stringify(json) : `${new Date().toISOString()} [${level}] ${text}`);
  };
  const warn = (w: AcceptWarning): void => {
    const { code, syscall, during, hint, suppressed } = w;
    write('warn', config.log === 'json' ? w.error.message : w.message, { code, syscall, during, hint, suppressed, pauseMs });
  };
  const statsLine = (s: AcceptStats): string =>
    `live=${s.live}/${s.limit} accepted=${s.accepted} connection_errors=${s.connectionErrors} shortages=${s.shortages} ` +
    `dropped=${s.dropped + s.droppedPerPeer + s.droppedPerPeerRate + s.droppedHeaviest} waiting=${s.waiting}/${s.queueSize} queued=${s.queued} admitted_from_queue=${s.admittedFromQueue} ` +
    `queue_timeouts=${s.queueTimeouts} gave_up=${s.gaveUp} reclaimed=${s.reclaimed} in_flight=${s.inFlight}/${s.exchangeLimit} shed_requests=${s.shedRequests} completed=${s.completed} paused=${s.paused ? s.pauses.join('+') : 'no'}`;

  const shutdown = new AbortController();
  const http = createServer((request, response) => {
    // --busy-ms: play a CPU-bound handler, the event loop blocked for busyMs (a busy loop, not a timer).
    for (const end = performance.now() + busyMs; performance.now() < end; );
    // --alloc-kb: play a handler that allocates, allocKb KiB of doubles (8 bytes each) on the V8
    // heap (not a Buffer: those live outside it), alive until the response is written.
    const held = allocKb > 0 ? new Array<number>(allocKb * 128).fill(1.5) : undefined;
    const reply = (): void => {
      if (held !== undefined) response.setHeader('X-Held-KiB', String((held.length * 8) / 1024)); // keeps `held` alive until here
      response.setHeader('X-Served-By', String(process.pid));
      response.setHeader('X-Client-Address', String(request.socket.remoteAddress)); // the client, also behind a PROXY protocol balancer
      response.setHeader('X-Live', String(limiter.live)); // slots in use as this is served
      response.end(`hello from rxjs-listen, ${request.method} ${request.url}\n`);
    };
    if (holdMs > 0) setTimeout(reply, holdMs);
    else reply();
  });
  if (keepAliveMs !== undefined) http.keepAliveTimeout = keepAliveMs;
  // Connections beyond the limit wait (first in, first out); one that waits too long is told 503.
  const perPeerRate = config.perPeerRate === undefined ? undefined : { rate: config.perPeerRate };
  // --max-lag-ms T: a request the loop reaches more than T/3 into a busy turn is answered 503,
  // the connection kept (served ones then wait about 2T/3 at most, see maxWaitMs: short turns
  // keep a keep-alive connection's round trip short, RESULTS 17). New connections: see below.
  const maxWaitMs = config.maxLagMs === undefined ? undefined : Math.max(1, Math.round(config.maxLagMs / 3));
  const queueMs = config.maxLagMs === undefined ? undefined : Math.max(1, Math.round(config.maxLagMs / 2));
  const limiter = new Limiter(limit, { perPeer, perPeerRate, queueSize: queue, queueTimeout: queueTimeoutMs, onQueueTimeout: serviceUnavailable(), maxWaitMs, refuse: serviceUnavailable() });
  const metrics = new Metrics(limiter);

  // Overload: stop accepting while a signal is over its threshold (--max-lag-ms, --max-elu,
  // --max-heap-mb, --max-rss-mb). The pause ends as soon as the signal is back under its lower
  // mark: 10 ms at least, unless --pause-ms says otherwise. A busy loop sheds first the clients
  // that bring most of the new connections, and pauses only when none stands out: memory pauses
  // at once (what is admitted allocates, whoever sends it).
  const cpuPressures: Pressure[] = [];
  const shedsHeaviest = config.proxyProtocol || config.agentPort === undefined;
  const memoryPressures: Pressure[] = [];
  if (config.maxLagMs !== undefined) {
    // A kernel accept queue that has held a connection at every turn for half of maxLagMs
    // (Node takes one connection per loop turn): pause, the queue emptied first (listen's
    // `refuse`: 503s, the newest kept as a batch worth as much work), so that later clients are
    // refused by the kernel at once instead of served late. Resumes once the batch is served and
    // a turn finds the queue empty. Requests over connections already open (keep-alive) do not
    // count here: maxWaitMs sheds those, one by one. (A quarter answered failures sooner but
    // paused on a mere burst of 100 connects, each turn ~0.5 ms: RESULTS 17.)
    cpuPressures.push({ name: 'acceptQueue', samples: acceptQueueMs(5), above: queueMs!, below: 0, unit: 'ms' });
    // And no more exchanges in flight than the process can finish within maxLagMs (requests
    // beyond them are answered 503; idle keep-alive connections are not counted).
    const adapting = targetLimit(limiter, serviceTimeMs(limiter), { target: config.maxLagMs }).subscribe();
    shutdown.signal.addEventListener('abort', () => adapting.unsubscribe());
  }
  // A short window for utilization: a saturated loop lets the kernel's accept queue fill, and
  // each pause resets it, so the sooner the pause, the shorter the waits (measured: 100 ms
  // windows left served p50 at 0.9 s; 20 ms windows with a limit bring p99 under 300 ms).
  if (config.maxElu !== undefined) cpuPressures.push({ name: 'eventLoopUtilization', samples: eventLoopUtilization(20), above: config.maxElu });
  // Heap every 100 ms: a handler that allocates can grow it by hundreds of MiB a second (with
  // --alloc-kb 512, 200 clients holding it 300 ms: over 300 MiB/s), past V8's limit before a 1 s
  // sample would see it. A still reading above the resume mark is taken after a garbage
  // collection: paused, nothing allocates, so V8 would not collect what finished requests left.
  if (config.maxHeapMb !== undefined) {
    const heap = heapUsedMiB({ every: 100, collectAbove: config.maxHeapMb * 0.8 });
    memoryPressures.push({ name: 'heapUsed', samples: heap, above: config.maxHeapMb, unit: 'MiB' });
    // The pause stops new connections, but those admitted in a burst at the resume would each
    // allocate at once: the limit follows the heap too (halved from the live count while above
    // the resume mark, one more while below and reached). With --max-lag-ms the limit is
    // learned from CPU instead: two learners would overwrite each other.
    if (config.maxLagMs === undefined) {
      const adapting = adaptiveLimit(limiter, heap, { target: config.maxHeapMb * 0.8, decrease: 0.5 }).subscribe();
      shutdown.signal.addEventListener('abort', () => adapting.unsubscribe());
    }
  }
  if (config.maxRssMb !== undefined) memoryPressures.push({ name: 'rss', samples: rssMiB({ every: 1000, collectAbove: config.maxRssMb * 0.8 }), above: config.maxRssMb, unit: 'MiB' });
  const overload = (w: PressureWarning): void =>
    write('warn', w.message, { signal: w.signal, value: w.value, threshold: w.threshold, hint: w.hint, suppressed: w.suppressed, shed: w.shed });

  // What the load balancers and the orchestrator see: readiness and metrics on --health-port,
  // HAProxy's agent on --agent-port, each on a port of its own (never limited or paused).
  const status = new LoopStatus(metrics, limiter);
  const sides: [string, Server][] = [];
  if (config.healthPort !== undefined) sides.push(['health on http://', createServer(healthCheck(status)).listen(config.healthPort, host)]);
  if (config.agentPort !== undefined) sides.push(['agent on ', createNetServer(agentCheck(status, { fullWeightAt: config.agentFullWeightAt })).listen(config.agentPort, host)]);
  for (const [what, server] of sides) {
    server.on('error', (error: Error) => {
      console.error(`demo: ${what.replace(/ on .*/, '')} port: ${error.message}`);
      process.exit(1);
    });
  }
  // The ready line first, then where the side ports listen, once they do.
  const announce = async (address: AddressInfo): Promise<void> => {
    await Promise.all(sides.map(([, server]) => (server.listening ? undefined : once(server, 'listening'))));
    onListening(address);
    for (const [what, server] of sides) {
      const side = server.address() as AddressInfo;
      console.log(`${what}${side.address}:${side.port}`);
    }
  };

  listen({
    host,
    port,
    server: { allowHalfOpen: true, noDelay: true }, // as http.createServer makes its sockets
    drainBeforePause: config.drainBeforePauseMs, // behind an agent-reading balancer: drain, then refuse
    // A pause empties the kernel's accept queue (each connection answered 503) before the
    // listening socket closes, so that the close resets no client that had sent its request.
    refuse: serviceUnavailable(),
    // ... keeping the newest of it for the pipeline, as many as the loop took in half of
    // --max-lag-ms: the process works on them while the kernel refuses the rest.
    keepNewest: queueMs === undefined ? undefined : { ms: queueMs, holdMs: config.maxLagMs },
    onListening: (address) => void announce(address as AddressInfo),
  })
    .pipe(
      memoryPressures.length === 0 ? identity : pauseUnderPressure(memoryPressures, { minPause: config.pauseMs ?? 10, onPause: overload, logWindow: 1000 }),
      metrics.count(),
      logWarnings(warn, { window: pauseMs }),
      handleErrors(pauseMs),
      // --proxy-protocol: the client's address from the balancer's header, before the limits count it.
      config.proxyProtocol ? proxyProtocol({ trusted: config.trustedProxies }) : identity,
      // After the PROXY header: the heaviest clients are told apart by their own addresses. Not
      // behind an agent-reading balancer that sends none: every connection has its address there,
      // and the balancer, told to drain, moves traffic before a pause refuses anyone.
      cpuPressures.length === 0 ? identity : pauseUnderPressure(cpuPressures, { minPause: config.pauseMs ?? 10, onPause: overload, logWindow: 1000, shedHeaviest: shedsHeaviest ? limiter : undefined }),
      backpressure(limiter),
      idleMs === undefined ? identity : idleTimeout(idleMs),
      serve(handTo(http), { signal: shutdown.signal, graceMs }),
    )
    .subscribe({
      error: (error: unknown) => {
        console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
      complete: () => process.exit(0),
    });

  if (config.stats) {
    // One line a second (a paused listener's refusals happen in the kernel, uncounted).
    const ticker = metrics.every(1000).subscribe((s) => write('stats', statsLine(s), s));
    shutdown.signal.addEventListener('abort', () => ticker.unsubscribe());
  }

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    // Drain first (--drain-ms): readiness fails and the agent says drain at once, while the loop
    // goes on serving, every response with Connection: close, until traffic stops arriving.
    if (drainMs > 0) console.error(`draining: ${limiter.live} live connections; serving until nothing arrives for ${drainQuietMs} ms, up to ${drainMs} ms`);
    drain(status, { maxMs: drainMs, quietMs: drainQuietMs }).subscribe(() => {
      console.error(`stopping: ${limiter.live} live connections, up to ${graceMs} ms to finish`);
      // Stop accepting; idle keep-alive connections close now, busy ones after their response;
      // serve completes when the last connection has ended (or after the grace).
      status.stop();
      shutdown.abort();
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
