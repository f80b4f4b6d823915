/*
 * What the young-generation collector does under a flood of short connections: each server
 * runs with V8's --trace-gc-nvp, pinned to core 0, and wrk (-t1 -c32, a new connection per
 * request, core 1) loads it: 3 s to warm up, then 5 s measured. Per scavenge: the bytes that
 * survived in the young generation and those promoted to the old one; the scavenge pause per
 * request; and the full collections. A structure that keeps connections' young objects
 * reachable (a long-lived Map holding sockets, old objects pointing to young ones) shows here
 * as survivors far above plain Node's, long before it shows in requests/s. Servers alternate
 * within each run.
 *
 *   npm run bench:gc [-- --runs N --servers plain,handoff,pipeline --node-flags=--no-page-promotion]
 */
import { parseFlags, words } from './support/flags';
import { machine, requireWrk, startServer, stopServer, wrk } from './support/run';

const SERVERS: Record<string, string> = {
  plain: 'build/bench/servers/plain.js',
  handoff: 'build/bench/servers/handoff.js',
  pipeline: 'build/bench/servers/pipeline.js',
};
const options = parseFlags('gc', {
  runs: { kind: 'integer', min: 1, default: 3 },
  servers: { kind: 'list', choices: Object.keys(SERVERS), default: 'plain,handoff,pipeline' },
  'node-flags': { kind: 'string' },
}).values;
// V8 flags for the servers, to tell which collector policy a difference comes from (V8 refuses most in NODE_OPTIONS).
const nodeFlags = words(options['node-flags']);
const { runs, servers } = options;

interface Collection {
  scavenge: boolean;
  pauseMs: number;
  survived: number;
  promoted: number;
}

/** One line of --trace-gc-nvp: `key=value ...` up to Node 22, JSON after `GC: ` since. */
function parse(line: string): Collection | undefined {
  let fields: Record<string, unknown>;
  const json = line.indexOf('GC: {');
  if (json >= 0) fields = JSON.parse(line.slice(json + 4)) as Record<string, unknown>;
  else if (/ gc=\S+ /.test(line)) fields = Object.fromEntries(line.split(' ').filter((f) => f.includes('=')).map((f) => f.split('=', 2)));
  else return undefined;
  return {
    scavenge: fields.gc === 's',
    pauseMs: Number(fields.pause),
    survived: Number(fields.new_space_survived ?? 0),
    promoted: Number(fields.promoted ?? 0),
  };
}

async function measure(name: string): Promise<Record<string, unknown>> {
  const server = await startServer(SERVERS[name]!, ['--port', '0'], { nodeArgs: ['--trace-gc-nvp', ...nodeFlags], cpu: 0 });
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    await wrk(['-t1', '-c32', '-d3s', '-H', 'Connection: close', url], 1);
    const from = server.stdout.length;
    const { requests } = await wrk(['-t1', '-c32', '-d5s', '-H', 'Connection: close', url], 1);
    const collections = server.stdout.slice(from).map(parse).filter((c): c is Collection => c !== undefined);
    const scavenges = collections.filter((c) => c.scavenge);
    const mean = (values: number[]) => (values.length === 0 ? 0 : values.reduce((a, b) => a + b, 0) / values.length);
    return {
      server: name,
      requests,
      scavenges: scavenges.length,
      survivedKiB: Math.round(mean(scavenges.map((c) => c.survived)) / 1024),
      promotedKiB: Math.round(mean(scavenges.map((c) => c.promoted)) / 1024),
      scavengeUsPerRequest: Number(((scavenges.reduce((a, c) => a + c.pauseMs, 0) * 1000) / requests).toFixed(2)),
      fullCollections: collections.length - scavenges.length,
    };
  } finally {
    await stopServer(server);
  }
}

async function main(): Promise<void> {
  requireWrk();
  console.log(`# gc: wrk -t1 -c32 -H 'Connection: close', 3 s warm-up, 5 s measured, server on core 0${nodeFlags.length > 0 ? ` with ${nodeFlags.join(' ')}` : ''}; ${machine()}`);
  for (let run = 1; run <= runs; run++) {
    for (const server of servers) console.log(JSON.stringify({ run, ...(await measure(server)) }));
  }
}

void main();
