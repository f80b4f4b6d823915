/*
 * What a listener paused on a descriptor shortage costs in CPU while no traffic arrives. A
 * process paused on shortage can stay paused for as long as a flood lasts (or a leak holds its
 * descriptors), so its cost while waiting matters: not work, only wakeups. Every 500 ms
 * handleErrors resumes, the listener counts the open descriptors, reports EMFILE again,
 * logWarnings logs it and the listener pauses again (the shortage cycle); and its periodic
 * check counts the descriptors once a second.
 *
 * Each round runs two processes at once, each under `ulimit -n 100` with the demo's pipeline
 * (logWarnings, handleErrors(500), backpressure(200), serve(handTo(http)); no client, loopback
 * only; bench/servers/shortage.ts): `short` holds /dev/null open until all but 10 descriptors
 * are taken, so the listener stays paused on the shortage; `idle` takes none, the baseline of
 * an idle listening process. After a warm-up each measures its own CPU (process.cpuUsage) and
 * exits; a process that does not is killed by its PID.
 *
 *   npm run bench:shortage [-- --rounds N --warm-ms N --measure-ms N]
 */
import { once } from 'node:events';
import { parseFlags } from './support/flags';
import { machine, median, startServer, stopServer, within } from './support/run';

const CASES = ['short', 'idle'] as const;
type Case = (typeof CASES)[number];

interface Result {
  case: Case;
  cpuPercent: number;
  userMs: number;
  systemMs: number;
  logLines: number;
  paused: string[];
}

const { rounds, 'warm-ms': warmMs, 'measure-ms': measureMs } = parseFlags('shortage', {
  rounds: { kind: 'integer', min: 1, default: 3 },
  'warm-ms': { kind: 'integer', min: 0, default: 12_000 },
  'measure-ms': { kind: 'integer', min: 1000, default: 10_000 },
}).values;

/** One process of `name`: its JSON line, once it has measured and exited. */
async function run(name: Case): Promise<Result> {
  const timeoutMs = warmMs + measureMs + 10_000;
  const deadline = performance.now() + timeoutMs;
  const server = await startServer('build/bench/servers/shortage.js', ['--case', name, '--warm-ms', `${warmMs}`, '--measure-ms', `${measureMs}`], { ulimit: 100 });
  try {
    // 'close': exited, and its output read to the end.
    const closed = once(server.child, 'close').then(() => 'closed' as const);
    const outcome = await within<'closed' | 'timeout'>(closed, Math.max(0, deadline - performance.now()), 'timeout');
    const line = server.stdout.find((l) => l.startsWith('{'));
    if (outcome === 'timeout' || line === undefined) {
      const why = outcome === 'timeout' ? `did not exit within ${timeoutMs} ms (killed)` : `exited (${server.child.exitCode ?? server.child.signalCode}) without a result`;
      throw new Error(`shortage: the ${name} process ${why}: ${server.stderr.slice(-3).join('\n')}`);
    }
    return JSON.parse(line) as Result;
  } finally {
    await stopServer(server); // kills it by its PID if it is still running
  }
}

async function main(): Promise<void> {
  console.log(`# shortage: ulimit -n 100, no traffic, ${warmMs} ms warm-up, ${measureMs} ms measured, ${CASES.join(' and ')} at once, ${rounds} round(s); ${machine()}`);
  const results: Record<Case, Result[]> = { short: [], idle: [] };
  for (let round = 1; round <= rounds; round++) {
    // Both at once: two mostly idle processes. Settled, not all: a failure waits for the other to be stopped.
    const settled = await Promise.allSettled(CASES.map(run));
    for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
    for (const outcome of settled as PromiseFulfilledResult<Result>[]) {
      results[outcome.value.case].push(outcome.value);
      console.log(JSON.stringify({ round, ...outcome.value }));
    }
  }
  if (results.short.some((r) => !r.paused.includes('shortage'))) console.log('note: a short process was not paused on the shortage at the end: its figure is not the shortage cycle alone');
  console.log(`\n| case | CPU % of a core per round | median | log lines/s |`);
  console.log(`|---|---|---|---|`);
  for (const name of CASES) {
    const cpu = results[name].map((r) => r.cpuPercent);
    const lines = median(results[name].map((r) => r.logLines)) / (measureMs / 1000);
    console.log(`| ${name} | ${cpu.map((c) => c.toFixed(3)).join(', ')} | ${median(cpu).toFixed(3)} | ${lines.toFixed(1)} |`);
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
