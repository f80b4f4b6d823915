/* What the plain backends of bench/balancers.ts share (plain-close.ts, plain-terminator.ts):
 * `http.createServer`, every response sent after --hold-ms with X-Served-By (the PID), listening
 * on 127.0.0.1:--port with the ready line. Each adds its own shutdown on SIGTERM. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

/** The backend, listening. */
export function startBackend(): Server {
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
  return server;
}
