/*
 * The demo: an HTTP server on the rxjs-listen accept loop.
 *
 *   npm run --silent demo -- [--port N] [--host H] [--limit N] [--queue-size N] [--queue-timeout-ms N]
 *     [--per-peer N] [--per-peer-rate N] [--silence-ms N] [--keep-alive-ms N] [--hold-ms N] [--busy-ms N] [--alloc-kb N]
 *     [--max-lag-ms N] [--max-elu F] [--max-heap-mb N] [--max-rss-mb N] [--pause-ms N] [--grace-ms N]
 *     [--drain-ms N] [--drain-quiet-ms N] [--announce-pause-ms N] [--health-port N] [--agent-port N] [--agent-full-weight-at N] [--proxy-protocol]
 *     [--trusted-proxies LIST] [--log text|json] [--stats] [--workers N]
 *
 * Prints `listening on http://HOST:PORT` on stdout when ready (then `health on http://HOST:PORT`
 * and `agent on HOST:PORT` with --health-port and --agent-port); logs go to stderr.
 * SIGINT/SIGTERM: with --drain-ms, readiness fails and the agent says drain at once while the
 * server goes on serving (every response with Connection: close) until nothing has arrived for
 * --drain-quiet-ms (default 1000), at most --drain-ms; then stop accepting, let live
 * connections finish (up to --grace-ms), exit 0.
 * With --workers N, a cluster primary forks N workers, each running the loop with its own
 * limit and pause state, sharing the port through the primary (round-robin).
 */
import cluster from 'node:cluster';
import { createServer, type AddressInfo } from 'node:net';
import { parseFlags } from './flags';
import { runHttpServer } from './http';

const config = parseFlags();
const url = (where: AddressInfo | string): string =>
  typeof where === 'string' ? `unix:${where}` : `http://${where.address.includes(':') ? `[${where.address}]` : where.address}:${where.port}`;

/** A free port now: workers must share one concrete port so a paused worker can rejoin it. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

async function primary(): Promise<void> {
  const { port: wanted = 0, host = '127.0.0.1' } = config.options;
  const port = wanted === 0 ? await freePort(host) : wanted;
  let announced = false;
  let running = config.workers;
  for (let i = 0; i < config.workers; i++) {
    const worker = cluster.fork({ RXJS_LISTEN_DEMO_PORT: String(port) });
    worker.on('message', (message: { listening?: AddressInfo }) => {
      if (message.listening && !announced) {
        announced = true;
        console.log(`listening on ${url(message.listening)}`);
      }
    });
  }
  cluster.on('exit', (worker, code, signal) => {
    if (code !== 0) console.error(`worker ${worker.process.pid} exited with ${code ?? signal}`);
    if (--running === 0) process.exit(0);
  });
  const stop = (): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (config.workers > 1 && cluster.isPrimary) {
  void primary();
} else if (cluster.isWorker) {
  const server = runHttpServer({ ...config, options: { ...config.options, port: Number(process.env.RXJS_LISTEN_DEMO_PORT) } }, (address) => process.send!({ listening: address }));
  // The channel to the primary would keep a worker alive once its server has shut down.
  const leave = (): void => void cluster.worker!.disconnect();
  server.closed.then(leave, leave);
} else {
  runHttpServer(config, (address) => console.log(`listening on ${url(address)}`));
}
