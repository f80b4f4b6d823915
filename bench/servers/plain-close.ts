/*
 * A plain Node backend for bench/balancers.ts: `http.createServer`, every response sent after
 * --hold-ms (X-Served-By: the PID), and the shutdown most Node services write: on SIGTERM,
 * `server.close()` (stop listening; Node 19+ also closes the connections idle at that moment),
 * exit once it calls back (every connection closed).
 *
 *   node build/bench/servers/plain-close.js --port N --hold-ms N
 */
import { startBackend } from './backend';

const server = startBackend();

process.once('SIGTERM', () => {
  console.error('SIGTERM: server.close()');
  server.close(() => process.exit(0));
});
