/*
 * What the small examples share: a server of Node's served by listenAndServe on `--port N`
 * (default 0: a free one) or `--path P` (a Unix socket), a ready line on stdout; SIGINT and
 * SIGTERM shut it down (the drain left out: nothing balances these).
 */
import type { Server } from 'node:net';
import { parseArgs } from 'node:util';
import { listenAndServe } from 'rxjs-listen';

/** `--port N` (default 0) or `--path P` (a Unix socket), from the command line. */
function where(): { port: number; host: string } | { path: string } {
  const { values } = parseArgs({ options: { port: { type: 'string' }, path: { type: 'string' } } });
  if (values.path !== undefined) return { path: values.path };
  const port = Number(values.port ?? 0);
  if (!/^\d+$/.test(values.port ?? '0') || port > 65535) {
    console.error(`example: --port must be an integer between 0 and 65535, got ${JSON.stringify(values.port)}`);
    process.exit(2);
  }
  return { port, host: '127.0.0.1' };
}

/** Serves `server` and prints `listening on SCHEME://ADDRESS` when ready. */
export function runExample(scheme: string, server: Server): void {
  listenAndServe(server, { ...where(), drainMs: 0, graceMs: 5000 }).ready.then(
    ({ address }) => console.log(`listening on ${scheme}://${typeof address === 'string' ? address : `${address.address}:${address.port}`}`),
    (error: Error) => {
      console.error(`example: ${error.message}`);
      process.exitCode = 1;
    },
  );
}
