/*
 * One server process: an http.Server that never listens itself, served by listenAndServe with
 * the flags as options. What the handler costs is the demo's own (--busy-ms, --alloc-kb,
 * --hold-ms); so are the log format (--log json: pino's JSON lines) and the stats line (--stats).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenAndServe, type LogFunction, type Serving } from 'rxjs-listen';
import type { AcceptStats } from 'rxjs-listen/metrics';
import { fail, flagged, type Config } from './flags';

const LEVELS = { info: 30, warn: 40, error: 50 };

export function runHttpServer(config: Config, onListening: (address: AddressInfo | string) => void): Serving {
  const { busyMs, allocKb, holdMs } = config;
  const http = createServer((request, response) => {
    // --busy-ms: a CPU-bound handler, the event loop blocked (a busy loop, not a timer).
    for (const end = performance.now() + busyMs; performance.now() < end; );
    // --alloc-kb: a handler that allocates, on the V8 heap (doubles, not a Buffer), held until the response.
    const held = allocKb > 0 ? new Array<number>(allocKb * 128).fill(1.5) : undefined;
    const reply = (): void => {
      if (held !== undefined) response.setHeader('X-Held-KiB', String((held.length * 8) / 1024)); // keeps `held` alive until here
      response.setHeader('X-Served-By', String(process.pid));
      response.setHeader('X-Client-Address', String(request.socket.remoteAddress)); // the client, also behind a PROXY protocol balancer
      response.setHeader('X-Live', String(server.limiter.live)); // slots in use as this is served
      response.end(`hello from rxjs-listen, ${request.method} ${request.url}\n`);
    };
    if (holdMs > 0) setTimeout(reply, holdMs);
    else reply();
  });
  if (config.keepAliveMs !== undefined) http.keepAliveTimeout = config.keepAliveMs;

  const json: LogFunction = (level, msg, fields) => console.error(JSON.stringify({ level: LEVELS[level], time: Date.now(), pid: process.pid, msg, ...fields }));
  let server: Serving;
  try {
    server = listenAndServe(http, { ...config.options, logger: config.log === 'json' ? json : undefined });
  } catch (error) {
    return fail(flagged((error as Error).message)); // a flag's value out of range
  }
  server.ready.then(
    ({ address, healthAddress, agentAddress }) => {
      onListening(address);
      if (healthAddress !== undefined) console.log(`health on http://${healthAddress.address}:${healthAddress.port}`);
      if (agentAddress !== undefined) console.log(`agent on ${agentAddress.address}:${agentAddress.port}`);
    },
    (error: Error) => {
      console.error(`demo: ${error.message}`);
      process.exitCode = 1;
    },
  );
  if (config.stats) {
    // One line a second (a paused listener's refusals happen in the kernel, uncounted), with the
    // process's memory: a soak reads its heap and RSS there.
    const ticker = server.metrics.every(1000).subscribe((s) => {
      const { heapUsed, rss } = process.memoryUsage();
      const memory = { heapUsedMiB: mib(heapUsed), rssMiB: mib(rss) };
      if (config.log === 'json') json('info', 'stats', { ...s, ...memory });
      else console.error(`${new Date().toISOString()} [stats] ${statsLine(s)} heap_used_mib=${memory.heapUsedMiB} rss_mib=${memory.rssMiB}`);
    });
    const stop = (): void => ticker.unsubscribe();
    server.closed.then(stop, stop);
  }
  server.closed.catch(() => (process.exitCode = 1));
  return server;
}

const mib = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

const statsLine = (s: AcceptStats): string =>
  `live=${s.live}/${s.limit} accepted=${s.accepted} connection_errors=${s.connectionErrors} shortages=${s.shortages} ` +
  `dropped=${s.dropped + s.droppedPerPeer + s.droppedPerPeerRate + s.droppedHeaviest} waiting=${s.waiting}/${s.queueSize} queued=${s.queued} admitted_from_queue=${s.admittedFromQueue} ` +
  `queue_timeouts=${s.queueTimeouts} gave_up=${s.gaveUp} reclaimed=${s.reclaimed} in_flight=${s.inFlight}/${s.exchangeLimit} shed_requests=${s.shedRequests} completed=${s.completed} paused=${s.paused ? s.pauses.join('+') : 'no'}`;
