/*
 * Marble.js 4 (@marblejs/http) on the accept loop: `node build/demo/frameworks/marble.js [--port N] [--limit N] [--hold-ms N]`.
 *
 * Trap: Marble's `createServer()` makes its own `http.Server` and returns a `listen()` that
 * calls `server.listen(port)` and only then binds the request handler it built; no option
 * passes a server in or skips the listen. (The server can be dug out of `listen.context`, but
 * not that handler: a second one would be a second router, built and subscribed beside the
 * unused first.) And `httpListener(...)` is not a `(req, res)` handler but a reader: it needs
 * a context (the server client, its event stream, the request bus, the logger) to become one.
 * So do what createServer does, less its listen: build the same context around an
 * `http.Server` of your own, which never listens, bind the handler to it, and hand that server
 * the connections.
 */
import { createServer } from 'node:http';
import { mergeMap, map } from 'rxjs';
import { bindEagerlyTo, bindTo, contextFactory, createReader, LoggerLevel, LoggerToken, type Logger } from '@marblejs/core';
import {
  HttpRequestBus,
  HttpRequestBusToken,
  HttpRequestMetadataStorage,
  HttpRequestMetadataStorageToken,
  HttpServerClient,
  HttpServerClientToken,
  HttpServerEventStream,
  HttpServerEventStreamToken,
  httpListener,
  provideConfig,
  r,
} from '@marblejs/http';
import { reply, serveRecipe } from './common';

const hello$ = r.pipe(
  r.matchPath('/'),
  r.matchType('GET'),
  r.useEffect((req$) =>
    req$.pipe(
      mergeMap(() => reply('marble')),
      // A string body goes out as application/json unless told (Marble's default content type).
      map((body) => ({ headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body })),
    ),
  ),
);
const listener = httpListener({ effects: [hello$] });

// Marble's logger writes every line to stdout (each token registered, each route mapped, the
// server's events): errors only here, on stderr, so that stdout has the ready line.
const errorsOnly = createReader<Logger>(() => (options) => () => {
  if (options.level === LoggerLevel.ERROR) console.error(`marble: [${options.type}] ${options.message}`);
});

async function main(): Promise<void> {
  const server = createServer();
  // The context createServer() builds (@marblejs/http dist/server/http.server.js), around our
  // server; the logger is ours.
  const context = await contextFactory(
    bindEagerlyTo(HttpServerClientToken)(HttpServerClient(server)),
    bindEagerlyTo(HttpServerEventStreamToken)(HttpServerEventStream({ server, hostname: '127.0.0.1' })),
    bindEagerlyTo(HttpRequestBusToken)(HttpRequestBus),
    ...(provideConfig().useHttpRequestMetadata() ? [bindTo(HttpRequestMetadataStorageToken)(HttpRequestMetadataStorage)] : []),
    bindTo(LoggerToken)(errorsOnly),
  );
  // What createServer's listen() binds after server.listen(): the listener, with its context.
  server.on('request', listener(context));
  // One keep-alive connection is one slot, as for any http.Server (handTo marks it idle between
  // requests): on shutdown, nothing to add.
  serveRecipe(server, {});
}

main().catch((error: unknown) => {
  console.error('marble example:', error);
  process.exit(1);
});
