/*
 * What the framework recipes in this folder share: their flags (`--port N`, default 0;
 * `--limit N`, default 1000; `--hold-ms N`, default 0), the accept loop handing sockets to the
 * framework's server, the ready line on stdout, the reply every handler gives, and graceful
 * shutdown on SIGINT/SIGTERM. Each recipe adds only what its framework needs.
 */
import type { AddressInfo, Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type Admitted, backpressure, handleErrors, handTo, Limiter, listen, logWarnings, serve } from 'rxjs-listen';

/** How long live connections may finish after SIGTERM, before they are destroyed. */
export const GRACE_MS = 2000;

function flag(values: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const text = values[name];
  const value = Number(text ?? fallback);
  if (text?.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    console.error(`example: --${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const { values } = parseArgs({ options: { port: { type: 'string' }, limit: { type: 'string' }, 'hold-ms': { type: 'string' } } });
/** The command line: where to listen, the most live connections, how long to delay each reply. */
export const flags = {
  port: flag(values, 'port', 0, 0, 65535),
  limit: flag(values, 'limit', 1000, 1, Number.MAX_SAFE_INTEGER),
  holdMs: flag(values, 'hold-ms', 0, 0, 60_000),
};

let inFlight = 0;

/**
 * What every handler answers: waits `--hold-ms`, then says how many handler calls were in
 * progress at that moment (this one included), so a test can see that the limit held.
 */
export async function reply(framework: string): Promise<string> {
  inFlight += 1;
  try {
    if (flags.holdMs > 0) await sleep(flags.holdMs);
    return `hello from ${framework}, ${inFlight} in flight\n`;
  } finally {
    inFlight -= 1;
  }
}

/** What a recipe does on shutdown, besides the loop's own (stop accepting, `GRACE_MS` for the rest). */
export interface Shutdown {
  /**
   * Called on SIGINT/SIGTERM, when the loop has stopped accepting: end what the framework keeps
   * open (WebSockets, HTTP/2 sessions), or the connections wait out the grace and are
   * destroyed. (HTTP/1 keep-alive connections need nothing: `handTo` marks them idle between
   * requests, and the loop closes them as soon as they are idle.)
   */
  closeConnections?(): void;
  /** Called when every connection has ended, before exit: the framework's own close (its hooks). */
  close?(): Promise<unknown> | void;
}

/**
 * Runs the accept loop for `server` (the framework's server, which never listens itself), prints
 * `listening on http://127.0.0.1:PORT` when ready, and on SIGINT/SIGTERM stops accepting, calls
 * `shutdown.closeConnections()`, waits for the connections (at most `GRACE_MS`), calls
 * `shutdown.close()` and exits 0.
 *
 * `server` may also be a handler of its own, for a framework whose server cannot be reached
 * (grpc-js keeps its HTTP/2 server private and hands out a connection injector): it takes each
 * admitted connection and returns nothing, so the connection holds its slot until its socket
 * closes, as with `handTo`.
 */
export function serveRecipe(server: Server | ((connection: Admitted) => void), shutdown: Shutdown): void {
  const stop = new AbortController();
  listen({
    host: '127.0.0.1',
    port: flags.port,
    server: { allowHalfOpen: true, noDelay: true }, // the socket options http sets on its own sockets
    onListening: (address: AddressInfo | string) => console.log(`listening on http://127.0.0.1:${typeof address === 'string' ? address : address.port}`),
  })
    .pipe(
      logWarnings((w) => console.error(w.message)),
      handleErrors(),
      backpressure(new Limiter(flags.limit)),
      serve(typeof server === 'function' ? server : handTo(server), { signal: stop.signal, graceMs: GRACE_MS }),
    )
    .subscribe({
      error: (error: unknown) => {
        console.error(`example: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
      complete: () => {
        Promise.resolve(shutdown.close?.()).then(
          () => process.exit(0),
          (error: unknown) => {
            console.error('example: close failed:', error);
            process.exit(1);
          },
        );
      },
    });
  const onSignal = (): void => {
    if (stop.signal.aborted) return;
    stop.abort(); // stop accepting; serve completes when the last connection has ended
    shutdown.closeConnections?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
