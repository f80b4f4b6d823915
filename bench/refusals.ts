/*
 * What refusing a connection costs the loop. Under a retry storm every refused client comes
 * straight back, so a shedding server's goodput is bounded by its serving time over serving
 * plus refusing; this measures the refusing. A server that refuses every connection with the
 * same `503` (bench/servers/refuse-all.ts: Node's floor, the library's `serviceUnavailable`, an
 * http.Server's handler, the library's pipeline at its limit), pinned to core 0; bench:overload's
 * closed-loop clients on core 1, retrying at once. Per way: refusals a second, the server's CPU
 * (user + system, /proc) per refused connection, and both processes' CPU shares: a server below
 * 0.9 of its core was waiting for the clients, and its figure is still its cost per refusal.
 *
 *   npm run bench:refusals [-- --seconds N --clients N --runs N]
 *
 * --seconds: each run's length (default 5). --clients: closed loops (default 200). --runs: every
 * way N times, interleaved (default 2).
 */
import { join } from 'node:path';
import { parseFlags } from './support/flags';
import { lastJsonLine, machine, median, round, runPinned, startServer, stopServer } from './support/run';

const WAYS = ['bare', 'library', 'http', 'pipeline'] as const;

const flags = parseFlags('refusals', {
  seconds: { kind: 'integer', min: 1, default: 5 },
  clients: { kind: 'integer', min: 1, default: 200 },
  runs: { kind: 'integer', min: 1, default: 2 },
});
const { seconds, clients, runs } = flags.values;

/** What bench:overload's client prints, as far as it is read here. */
interface ClientFigures {
  outcomes: Record<string, number>;
  cpuShareOfACore: { server: number; client: number };
  wallSeconds: number;
}

interface Run {
  perSecond: number;
  usPerRefusal: number;
  serverShare: number;
  clientShare: number;
  others: string;
}

async function measure(way: (typeof WAYS)[number]): Promise<Run> {
  const server = await startServer('build/bench/servers/refuse-all.js', ['--way', way], { cpu: 0 });
  try {
    const client = [join(__dirname, 'overload.js'), '--client', '--port', String(server.port), '--server-pid', String(server.pid), '--clients', String(clients), '--seconds', String(seconds)];
    const { code, stdout, stderr } = await runPinned(1, [process.execPath, ...client]);
    if (code !== 0) throw new Error(`the client exited with ${code}: ${stderr}`);
    const f = lastJsonLine<ClientFigures>(stdout);
    const refused = f.outcomes['503'] ?? 0;
    const serverSeconds = f.cpuShareOfACore.server * f.wallSeconds;
    const others = Object.entries(f.outcomes).filter(([outcome]) => outcome !== '503').map(([outcome, n]) => `${outcome} ${n}`).join(', ');
    return {
      perSecond: refused / f.wallSeconds,
      usPerRefusal: refused === 0 ? NaN : (serverSeconds / refused) * 1e6,
      serverShare: f.cpuShareOfACore.server,
      clientShare: f.cpuShareOfACore.client,
      others: others || 'none',
    };
  } finally {
    await stopServer(server);
  }
}

async function main(): Promise<void> {
  console.log(`# refusals: ${clients} closed-loop clients, ${seconds} s a run, ${runs} run(s) a way; ${machine()}`);
  const results = new Map<string, Run[]>(WAYS.map((way) => [way, []]));
  for (let run = 0; run < runs; run++) {
    for (const way of WAYS) {
      const r = await measure(way);
      results.get(way)!.push(r);
      console.log(JSON.stringify({ way, run: run + 1, ...r }));
    }
  }
  console.log('\n| way | refused/s | server CPU µs per refused connection (median; runs) | CPU server / client (cores) | other outcomes |');
  console.log('|---|---|---|---|---|');
  for (const [way, rs] of results) {
    const us = rs.map((r) => r.usPerRefusal);
    const list = (values: number[], digits = 0): string => values.map((v) => round(v, digits)).join(', ');
    console.log(`| ${way} | ${list(rs.map((r) => r.perSecond))} | **${round(median(us))}** (${list(us)}) | ${list(rs.map((r) => r.serverShare), 2)} / ${list(rs.map((r) => r.clientShare), 2)} | ${rs.map((r) => r.others).join('; ')} |`);
  }
}

void main();
