/*
 * A plain Node backend for bench/balancers.ts, shut down by http-terminator (npm): on SIGTERM,
 * `terminate()` (responses in flight get `Connection: close`, idle connections are destroyed,
 * connections that arrive meanwhile are destroyed, the rest after 5 s; then `server.close()`),
 * exit once it resolves. Every response is sent after --hold-ms (X-Served-By: the PID).
 *
 *   node build/bench/servers/plain-terminator.js --port N --hold-ms N
 */
import { createHttpTerminator } from 'http-terminator';
import { startBackend } from './backend';

const server = startBackend();
const terminator = createHttpTerminator({ server, gracefulTerminationTimeout: 5000 });

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
