/*
 * A plain Node backend for bench/balancers.ts, shut down by http-terminator (npm): on SIGTERM,
 * `terminate()` (responses in flight get `Connection: close`, idle connections are destroyed,
 * connections that arrive meanwhile are destroyed, the rest after 5 s; then `server.close()`),
 * exit once it resolves. Every response is sent after --hold-ms (X-Served-By: the PID).
 *
 *   node build/bench/servers/plain-terminator.js --port N --hold-ms N
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { createHttpTerminator } from 'http-terminator';

const { values } = parseArgs({ options: { port: { type: 'string' }, 'hold-ms': { type: 'string' } } });
const holdMs = Number(values['hold-ms'] ?? 0);

const server = createServer((request, response) => {
  const reply = (): void => {
    response.setHeader('X-Served-By', String(process.pid));
    response.end(`hello ${request.method} ${request.url}\n`);
  };
  if (holdMs > 0) setTimeout(reply, holdMs);
  else reply();
});
const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: 5000 });

server.listen(Number(values.port ?? 0), '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(`listening on http://${address}:${port}`);
});

process.once('SIGTERM', () => {
  console.error('SIGTERM: http-terminator terminate()');
  terminator.terminate().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`terminate failed: ${String(error)}`);
      process.exit(1);
    },
  );
});
