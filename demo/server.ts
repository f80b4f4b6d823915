/*
 * An HTTP server on the rxjs-listen accept loop: the library accepts, pauses and limits;
 * Node's http.Server (which never listens itself) speaks HTTP on the sockets it is handed.
 *
 *   npm run --silent demo -- [--port N] [--host H] [--limit N] [--hold-ms N] [--pause-ms N] [--grace-ms N]
 *
 * Prints `listening on http://HOST:PORT` on stdout when ready; logs go to stderr.
 * SIGINT/SIGTERM: stop accepting, let live connections finish (up to --grace-ms), exit 0.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { fromEvent, merge, Subject, take, takeUntil } from 'rxjs';
import { backpressure, handleErrors, Limiter, listen, logWarnings, serve } from '../src';

function integer(name: string, text: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max || text.trim() === '') {
    console.error(`demo: --${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    limit: { type: 'string' },
    'hold-ms': { type: 'string' },
    'pause-ms': { type: 'string' },
    'grace-ms': { type: 'string' },
  },
});
const host = values.host ?? '127.0.0.1';
const port = integer('port', values.port, 8080, 0, 65535);
const limiter = new Limiter(integer('limit', values.limit, 1000, 1));
const holdMs = integer('hold-ms', values['hold-ms'], 0, 0);
const pauseMs = integer('pause-ms', values['pause-ms'], 500, 0);
const graceMs = integer('grace-ms', values['grace-ms'], 10_000, 0);

let stopping = false;
const http = createServer((request, response) => {
  const reply = (): void => {
    if (stopping) response.setHeader('Connection', 'close');
    response.end(`hello from rxjs-listen, ${request.method} ${request.url}\n`);
  };
  if (holdMs > 0) setTimeout(reply, holdMs);
  else reply();
});

const stop$ = new Subject<void>();
const subscription = listen({
  host,
  port,
  server: { allowHalfOpen: true, noDelay: true }, // as http.createServer makes its sockets
  onListening: (address) => {
    const { address: ip, port: bound } = address as AddressInfo;
    console.log(`listening on http://${ip.includes(':') ? `[${ip}]` : ip}:${bound}`);
  },
})
  .pipe(
    takeUntil(stop$),
    logWarnings((warning) => console.error(`${new Date().toISOString()} ${warning.message}`), { window: pauseMs }),
    handleErrors(pauseMs),
    backpressure(limiter),
    serve(({ socket }) => void http.emit('connection', socket)), // lives until the socket closes
  )
  .subscribe({
    error: (error: unknown) => {
      console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
    complete: () => process.exit(0),
  });

merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM'))
  .pipe(take(1))
  .subscribe(() => {
    console.error(`stopping: ${limiter.active} live connections, up to ${graceMs} ms to finish`);
    stopping = true;
    stop$.next(); // stop accepting; serve completes when the last handler has
    http.closeIdleConnections();
    setTimeout(() => {
      subscription.unsubscribe(); // destroys what is still open
      process.exit(0);
    }, graceMs).unref();
  });
