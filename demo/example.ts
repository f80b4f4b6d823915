/*
 * What the small examples share: the accept loop handing sockets to a server of Node's,
 * a ready line on stdout, graceful shutdown on SIGINT/SIGTERM.
 */
import type { AddressInfo, Server } from 'node:net';
import { parseArgs } from 'node:util';
import { backpressure, handleErrors, handTo, listen, logWarnings, serve } from '../src';

/** `--port N` (default 0) or `--path P` (a Unix socket), from the command line. */
export function where(): { port: number; host: string } | { path: string } {
  const { values } = parseArgs({ options: { port: { type: 'string' }, path: { type: 'string' } } });
  if (values.path !== undefined) return { path: values.path };
  const port = Number(values.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`example: --port must be an integer between 0 and 65535, got ${JSON.stringify(values.port)}`);
    process.exit(2);
  }
  return { port, host: '127.0.0.1' };
}

/** Runs the loop for `server` and prints `listening on SCHEME://ADDRESS` when ready. */
export function runExample(scheme: string, server: Server): void {
  const shutdown = new AbortController();
  listen({
    ...where(),
    server: { allowHalfOpen: true, noDelay: true },
    onListening: (address) => {
      const text = typeof address === 'string' ? address : `${(address as AddressInfo).address}:${(address as AddressInfo).port}`;
      console.log(`listening on ${scheme}://${text}`);
    },
  })
    .pipe(
      logWarnings((w) => console.error(w.message)),
      handleErrors(),
      backpressure(1000),
      serve(handTo(server), { signal: shutdown.signal, graceMs: 5000 }),
    )
    .subscribe({
      error: (error: unknown) => {
        console.error(`example: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
      complete: () => process.exit(0),
    });
  const stop = (): void => {
    shutdown.abort();
    (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
