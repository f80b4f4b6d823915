/* The overload comparison: Fastify 5 with @fastify/under-pressure, and the same CPU-bound
 * handler as plain-busy.ts (every response first burns --busy-ms of CPU in a busy loop). The
 * plugin answers 503 with a Retry-After header while its last sample is over the threshold;
 * it does not stop accepting connections. Own arguments, because common.ts rejects unknown flags.
 *
 *   node build/bench/servers/fastify-busy.js [--port N] [--busy-ms N]
 *     [--max-lag-ms N]       maxEventLoopDelay (ms): the plugin's mean event-loop delay over the sample, minus its 10 ms resolution
 *     [--max-elu F]          maxEventLoopUtilization (0 to 1)
 *     [--elu-mode M]         eventLoopUtilizationMode: 'interval' (default here: since the previous sample, as the demo)
 *                            or 'cumulative' (the plugin's default: since the plugin was registered)
 *     [--sample-ms N]        sampleInterval (ms), default the plugin's 1000
 *     [--retry-after N]      retryAfter (s), the Retry-After header of the 503s, default the plugin's 10
 */
import underPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const text = { type: 'string' } as const;
const args = parseArgs({
  options: { port: text, 'busy-ms': text, 'max-lag-ms': text, 'max-elu': text, 'elu-mode': text, 'sample-ms': text, 'retry-after': text },
}).values;
const port = Number(args.port ?? 0);
const busyMs = Number(args['busy-ms'] ?? 0);
const maxLagMs = Number(args['max-lag-ms'] ?? 0);
const maxElu = Number(args['max-elu'] ?? 0);
const eluMode = args['elu-mode'] ?? 'interval';
const sampleMs = Number(args['sample-ms'] ?? 1000);
const retryAfter = Number(args['retry-after'] ?? 10);
const integers = [port, busyMs, maxLagMs, sampleMs, retryAfter].every((n) => Number.isInteger(n) && n >= 0);
if (!integers || !(maxElu >= 0 && maxElu <= 1) || (eluMode !== 'interval' && eluMode !== 'cumulative') || (maxLagMs === 0 && maxElu === 0)) {
  console.error(`fastify-busy: bad arguments (give --max-lag-ms N or --max-elu F, or both): ${JSON.stringify(args)}`);
  process.exit(2);
}

const app = Fastify({ logger: false });
void app.register(underPressure, {
  maxEventLoopDelay: maxLagMs, // 0: not checked
  maxEventLoopUtilization: maxElu, // 0: not checked
  eventLoopUtilizationMode: eluMode,
  sampleInterval: sampleMs,
  retryAfter,
});
app.get('/', async (_request, reply) => {
  for (const end = performance.now() + busyMs; performance.now() < end; );
  return reply.type('text/plain').send('ok\n');
});
app.listen({ port, host: '127.0.0.1' }).then(
  () => console.log(`listening on http://127.0.0.1:${(app.server.address() as AddressInfo).port}`),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
process.on('SIGTERM', () => process.exit(0));
