/*
 * Real nginx and real HAProxy in front of two backends on loopback, every outcome counted as
 * the client sees it.
 *
 * restarts: rolling restarts under POST load. 40 closed-loop clients POST a small JSON body
 * through the balancer (one keep-alive agent, 40 sockets; nothing retried; a request not
 * answered within 5 s counts as a timeout) while each backend is restarted twice, one after the
 * other (a, b, a, b: SIGTERM, wait for its exit, start it again on the same port, wait for its
 * ready line, 1 s for the balancer to see it, next). The load lasts --seconds (default 14), or
 * until 1 s after the last ready line if the restarts take longer. The balancers keep upstream
 * keep-alive connections, as production configurations do (the lines used are printed first).
 * Backends, the same for every balancer, each answering after 20 ms:
 *   plain server.close()   bench/servers/plain-close.ts: SIGTERM -> server.close(), exit when it calls back
 *   http-terminator        bench/servers/plain-terminator.ts: SIGTERM -> terminate() (grace 5000 ms), exit
 *   demo --drain-ms 5000   the demo with --drain-ms 5000 --drain-quiet-ms 1000 --health-port 0 and a
 *                          fixed --agent-port per backend (HAProxy: agent-check on its server line)
 *   demo, no agent-check   (HAProxy only) the same demo, the server lines without agent-check
 *
 * overload: two demo backends behind HAProxy, one CPU-bound (--busy-ms 10 --max-lag-ms 50: it
 * pauses while its event loop lags; see OVERLOAD_BACKENDS for why not --limit), one not
 * (--busy-ms 1, the defaults); GETs arrive at --rate per second (default 200: an even split gives
 * the busy one 100/s, all its CPU, and the fast one a tenth of its), whatever the earlier ones
 * became (an open load: a closed loop of clients saturates the whole service, so that its
 * latency measures the total capacity, not where HAProxy sends), each a fresh connect() with
 * `Connection: close`, timed from connect() to the last byte, given up after 5 s. Without, then
 * with agent-check on the server lines, then with it and --announce-pause-ms 400 on the
 * backends (a pause announced to the agent before the listener closes), fresh backends for each. Every 100 ms this script asks
 * the busy backend's agent (in both cases), reads its kernel accept queue (`ss -ltn`), and reads
 * HAProxy's view of both servers from its stats socket.
 *
 * nginx and HAProxy (Debian's packages) run as this user from a temporary directory, on free
 * ports of 127.0.0.1, in the foreground, and are stopped by their PIDs; the directory is removed.
 * Each experiment has its file: bench/balancers/restarts.ts and bench/balancers/overload.ts;
 * the backends, the balancers' configurations and processes and their logs are shared, in
 * bench/balancers/support.ts. This file reads the flags and runs them.
 *
 *   npm run bench:balancers [-- --only restarts|overload] [--runs N] [--seconds N] [--rate N]
 *
 * --runs: the restarts part N times in a row (every balancer and backend kind each time);
 * default 1. --seconds: the restarts' load lasts at least N s (default 14) and the overload's
 * load N s (default 10). --rate: the overload's new GETs per second (default 200).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { overloadPart } from './balancers/overload';
import { restartsPart } from './balancers/restarts';
import type { BalancerOptions } from './balancers/support';
import { parseFlags } from './support/flags';
import { machine, requireCommand } from './support/run';

const values = parseFlags('balancers', {
  only: { kind: 'string', choices: ['restarts', 'overload'] },
  runs: { kind: 'integer', min: 1, max: 20, default: 1 },
  seconds: { kind: 'integer', min: 2, max: 120 }, // without it: 14 for the restarts, 10 for the overload
  rate: { kind: 'integer', min: 1, max: 5000 },
}).values;
const options: BalancerOptions = { ...values };

async function main(): Promise<void> {
  requireCommand('nginx', ['-v']);
  requireCommand('haproxy', ['-v']);
  console.log(`# balancers: ${machine()}; started ${new Date().toISOString()}`);
  console.log(`# ${(await version('nginx', ['-v'])).trim()}; ${(await version('haproxy', ['-v'])).split('\n')[0]}`);
  if (options.only !== 'overload') await restartsPart(options);
  if (options.only !== 'restarts') await overloadPart(options);
}

async function version(command: string, args: string[]): Promise<string> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  await once(child, 'exit');
  return text;
}

void main();
