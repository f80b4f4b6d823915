/* One process of bench/shortage.ts, run under `ulimit -n 100`: the demo's pipeline (logWarnings,
 * handleErrors(500), backpressure(200), serve(handTo(http))) with no client. `--case short`
 * opens /dev/null until all but 10 of the limit's descriptors are open, so the listener's
 * once-a-second count reports the shortage and it stays paused; `--case idle` takes none.
 * After `--warm-ms` from listening it measures its own CPU (process.cpuUsage) for
 * `--measure-ms`, prints one JSON line and exits. */
import { openSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { tap } from 'rxjs';
import { backpressure, handleErrors, handTo, listen, logWarnings, serve, type ListenerControl } from '../../src';
import { readOpenFileLimit } from '../../src/errors';

const options = parseArgs({ options: { case: { type: 'string' }, 'warm-ms': { type: 'string' }, 'measure-ms': { type: 'string' } } }).values;
const which = options.case;
const warmMs = Number(options['warm-ms']);
const measureMs = Number(options['measure-ms']);
if ((which !== 'short' && which !== 'idle') || !(warmMs >= 0) || !(measureMs > 0)) {
  console.error(`shortage server: needs --case short|idle --warm-ms N --measure-ms N, got ${JSON.stringify(options)}`);
  process.exit(2);
}

const held: number[] = []; // the descriptors taken, open until exit
let listener: ListenerControl | undefined; // from the first result (none come while idle: never paused)
let measuring = false;
let logLines = 0;

function takeDescriptors(): void {
  const limit = readOpenFileLimit();
  if (limit === undefined) throw new Error('shortage server: no open-file limit to run short of');
  // Counted as the listener counts (minus the descriptor readdir itself uses), leaving 10 free.
  while (readdirSync('/proc/self/fd').length - 1 < limit - 10) held.push(openSync('/dev/null', 'r'));
}

function measure(): void {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  measuring = true;
  setTimeout(() => {
    const { user, system } = process.cpuUsage(cpu0);
    const ms = performance.now() - t0;
    measuring = false;
    const result = {
      case: which,
      cpuPercent: Number((((user + system) / 1000 / ms) * 100).toFixed(3)),
      userMs: Number((user / 1000).toFixed(1)),
      systemMs: Number((system / 1000).toFixed(1)),
      logLines,
      paused: listener?.pauses ?? [],
    };
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  }, measureMs);
}

listen({
  host: '127.0.0.1',
  port: 0,
  server: { allowHalfOpen: true, noDelay: true }, // as http.createServer makes its sockets
  onListening: (address) => {
    if (which === 'short') takeDescriptors();
    const { address: ip, port } = address as AddressInfo;
    console.log(`listening on http://${ip}:${port}`); // the line startServer waits for
    setTimeout(measure, warmMs);
  },
})
  .pipe(
    tap((result) => (listener ??= result.listener)),
    // As the demo logs: a text line on stderr (the parent reads it from a pipe).
    logWarnings(
      (w) => {
        if (measuring) logLines++;
        console.error(`${new Date().toISOString()} [warn] ${w.message}`);
      },
      { window: 500 },
    ),
    handleErrors(500),
    backpressure(200),
    serve(handTo(createServer((_request, response) => response.end('x')))),
  )
  .subscribe();
