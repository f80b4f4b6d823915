/*
 * The seed's stress procedure, automated: each server under `ulimit -n 100` holds every
 * response 2 s; `wrk -t2 -c1000 -d5s` loads it; then alive, CPU during the load, recovery
 * (first fresh request served after the load, minus the hold), the log, and peak RSS.
 * Servers alternate within one run, so they meet the same machine.
 *
 *   npm run bench:stress [-- --rounds N]
 */
import { get } from 'node:http';
import { parseFlags } from './support/flags';
import { cpuSeconds, machine, peakRssKiB, requireWrk, sleep, startServer, stopServer, wrk } from './support/run';

const HOLD_MS = 2000;
const { rounds } = parseFlags('stress', { rounds: { kind: 'integer', min: 1, default: 2 } }).values;

const servers = [
  { name: 'rxjs-listen demo, --limit 200', script: 'build/demo/server.js', args: ['--port', '0', '--limit', '200', '--hold-ms', `${HOLD_MS}`] },
  { name: 'plain http.createServer', script: 'build/bench/servers/plain.js', args: ['--port', '0', '--hold-ms', `${HOLD_MS}`] },
  { name: 'rxjs-listen demo, --limit 50', script: 'build/demo/server.js', args: ['--port', '0', '--limit', '50', '--hold-ms', `${HOLD_MS}`] },
  // The floor: closes its listener at 50 live and listens again below; no detection, no log.
  { name: 'Node closing its listener at 50 live', script: 'build/bench/servers/relisten.js', args: ['--port', '0', '--limit', '50', '--hold-ms', `${HOLD_MS}`] },
];

function fetchOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/fresh', agent: false, timeout: 15_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

async function measure(server: (typeof servers)[number]) {
  const s = await startServer(server.script, server.args, { ulimit: 100 });
  try {
    const logBefore = s.stderr.length;
    const cpu0 = cpuSeconds(s.pid);
    const t0 = performance.now();
    const load = await wrk(['-t2', '-c1000', '-d5s', `http://127.0.0.1:${s.port}/`]);
    const t1 = performance.now();
    const cpu = ((cpuSeconds(s.pid) - cpu0) / ((t1 - t0) / 1000)) * 100;
    const logDuring = s.stderr.slice(logBefore);
    let served = false;
    while (!served && performance.now() - t1 < 30_000) {
      served = await fetchOnce(s.port);
      if (!served) await sleep(10);
    }
    const recoveryMs = performance.now() - t1 - HOLD_MS;
    const shortage = s.stderr.filter((l) => /EMFILE|too many open files/i.test(l));
    return {
      server: server.name,
      alive: s.child.exitCode === null,
      cpuPercent: Number(cpu.toFixed(1)),
      recoveryMs: served ? Math.round(recoveryMs) : 'not served in 30 s',
      shortageLogged: shortage.length > 0,
      hintLogged: shortage.some((l) => /ulimit -n/.test(l)),
      logLinesPerSecond: Number((logDuring.length / ((t1 - t0) / 1000)).toFixed(1)),
      peakRssMiB: Number((peakRssKiB(s.pid) / 1024).toFixed(1)),
      wrkRequests: load.requests,
      firstShortageLine: shortage.find((l) => !l.includes('Warning'))?.slice(0, 160),
    };
  } finally {
    await stopServer(s);
  }
}

async function main(): Promise<void> {
  requireWrk();
  console.log(`# stress: ulimit -n 100, hold ${HOLD_MS} ms, wrk -t2 -c1000 -d5s; ${machine()}`);
  for (let round = 1; round <= rounds; round++) {
    for (const server of servers) console.log(JSON.stringify({ round, ...(await measure(server)) }));
  }
}

void main();
