/*
 * A plain Node backend for bench/balancers.ts: `http.createServer`, every response sent after
 * --hold-ms (X-Served-By: the PID), and the shutdown most Node services write: on SIGTERM,
 * `server.close()` (stop listening; Node 19+ also closes the connections idle at that moment),
 * exit once it calls back (every connection closed).
 *
 *   node build/bench/servers/plain-close.js --port N --hold-ms N
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

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

server.listen(Number(values.port ?? 0), '127.0.0.1', () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(`listening on http://${address}:${port}`);
});

process.once('SIGTERM', () => {
  console.error('SIGTERM: server.close()');
  server.close(() => process.exit(0));
});
