/*
 * An HTTP server on the rxjs-listen accept loop: the library accepts, pauses and limits;
 * Node's http.Server (which never listens itself) speaks HTTP on the sockets it is handed.
 *
 *   npm run --silent demo -- [--port N] [--host H] [--limit N] [--per-peer N] [--idle-ms N]
 *                            [--hold-ms N] [--pause-ms N] [--grace-ms N] [--log text|json] [--stats]
 *
 * Prints `listening on http://HOST:PORT` on stdout when ready; logs go to stderr.
 * SIGINT/SIGTERM: stop accepting, let live connections finish (up to --grace-ms), exit 0.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { identity } from 'rxjs';
import { backpressure, handleErrors, handTo, idleTimeout, Limiter, listen, logWarnings, Metrics, serve, type AcceptWarning } from '../src';

function integer(name: string, text: string | undefined, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    console.error(`demo: --${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const text = { type: 'string' } as const;
function parse() {
  try {
    return parseArgs({
      options: {
        port: text,
        host: text,
        limit: text,
        'per-peer': text,
        'idle-ms': text,
        'hold-ms': text,
        'pause-ms': text,
        'grace-ms': text,
        log: text,
        stats: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    console.error(`demo: ${(error as Error).message}`);
    return process.exit(2);
  }
}
const values = parse();
const host = values.host ?? '127.0.0.1';
const port = integer('port', values.port, 8080, 0, 65535)!;
const limit = integer('limit', values.limit, 1000, 1)!;
const perPeer = integer('per-peer', values['per-peer'], undefined, 1);
const idleMs = integer('idle-ms', values['idle-ms'], undefined, 1);
const holdMs = integer('hold-ms', values['hold-ms'], 0, 0)!;
const pauseMs = integer('pause-ms', values['pause-ms'], 500, 0)!;
const graceMs = integer('grace-ms', values['grace-ms'], 10_000, 0)!;
const format = values.log ?? 'text';
if (format !== 'text' && format !== 'json') {
  console.error(`demo: --log must be text or json, got ${JSON.stringify(format)}`);
  process.exit(2);
}

// Logs in the shape of pino's JSON lines with --log json, else a text line like nginx's.
function warn(warning: AcceptWarning): void {
  if (format === 'json') {
    const { code, syscall, during, hint, suppressed } = warning;
    const fields = { level: 40, time: Date.now(), pid: process.pid, msg: warning.error.message, code, syscall, during, hint, suppressed, pauseMs };
    console.error(JSON.stringify(fields));
  } else {
    console.error(`${new Date().toISOString()} [warn] ${warning.message}`);
  }
}

const shutdown = new AbortController();
const http = createServer((request, response) => {
  const reply = (): void => {
    if (shutdown.signal.aborted) response.setHeader('Connection', 'close');
    response.end(`hello from rxjs-listen, ${request.method} ${request.url}\n`);
  };
  if (holdMs > 0) setTimeout(reply, holdMs);
  else reply();
});
const limiter = new Limiter(limit, { perPeer });
const metrics = new Metrics(limiter);

listen({
  host,
  port,
  server: { allowHalfOpen: true, noDelay: true }, // as http.createServer makes its sockets
  onListening: (address) => {
    const { address: ip, port: bound } = address as AddressInfo;
    console.log(`listening on http://${ip.includes(':') ? `[${ip}]` : ip}:${bound}`);
  },
})
  .pipe(
    metrics.count(),
    logWarnings(warn, { window: pauseMs }),
    handleErrors(pauseMs),
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

const stop = (): void => {
  if (shutdown.signal.aborted) return;
  console.error(`stopping: ${limiter.active} live connections, up to ${graceMs} ms to finish`);
  shutdown.abort(); // stop accepting; serve completes when the last connection has ended
  http.closeIdleConnections();
};
if (values.stats) {
  // One line a second on stderr (a paused listener's refusals happen in the kernel, uncounted).
  const ticker = metrics.every(1000).subscribe((s) => {
    const line = `live=${s.live}/${s.limit} accepted=${s.accepted} connection_errors=${s.connectionErrors} shortages=${s.shortages} dropped=${s.dropped + s.droppedPerPeer} paused=${s.paused ? s.pauses.join('+') : 'no'}`;
    console.error(format === 'json' ? JSON.stringify({ level: 30, time: Date.now(), pid: process.pid, msg: 'stats', ...s }) : `${new Date().toISOString()} [stats] ${line}`);
  });
  shutdown.signal.addEventListener('abort', () => ticker.unsubscribe());
}
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
