/*
 * The demo's command line. Every option of listenAndServe is a flag by one rule, `--max-lag-ms`
 * is `maxLagMs`; the demo's own flags shape its handler and its output. A bad flag is one line
 * on stderr and exit 2.
 */
import { parseArgs } from 'node:util';
import type { ListenAndServeOptions } from 'rxjs-listen';

/** The kinds of flag values: listenAndServe checks ranges itself (and names the flag, see `flagged`). */
type Kind = 'integer' | 'number' | 'string' | 'list' | 'boolean';

/** listenAndServe's options that are flags (all but `logger`, a function, and `signals`: the demo always handles them). */
const OPTIONS: Record<string, Kind> = {
  port: 'integer', host: 'string', path: 'string', backlog: 'integer', reusePort: 'boolean', limit: 'integer', queueSize: 'integer', queueTimeoutMs: 'integer',
  perPeer: 'integer', perPeerRate: 'integer', silenceMs: 'integer', maxLagMs: 'integer', maxElu: 'number', maxHeapMb: 'integer', maxRssMb: 'integer', pauseMs: 'integer',
  proxyProtocol: 'boolean', trustedProxies: 'list', shedHeaviest: 'boolean', announcePauseMs: 'integer', drainMs: 'integer', drainQuietMs: 'integer', graceMs: 'integer',
  healthPort: 'integer', agentPort: 'integer', agentFullWeightAt: 'integer',
};
/** The demo's own: what each request costs (--busy-ms of CPU, --alloc-kb of heap held, --hold-ms late), keep-alive, logs, workers. */
const DEMO: Record<string, Kind> = { busyMs: 'integer', allocKb: 'integer', holdMs: 'integer', keepAliveMs: 'integer', log: 'string', stats: 'boolean', workers: 'integer' };

export interface Config {
  options: ListenAndServeOptions;
  busyMs: number;
  allocKb: number;
  holdMs: number;
  keepAliveMs: number | undefined;
  log: 'text' | 'json';
  stats: boolean;
  workers: number;
}

const flag = (option: string): string => `--${option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function fail(message: string): never {
  console.error(`demo: ${message}`);
  return process.exit(2);
}

/** An error of listenAndServe's, its options named as the flags: `--max-lag-ms must be ...`. */
export const flagged = (message: string): string => message.replace(/^listenAndServe: /, '').replace(/options\.([a-zA-Z]+)/g, (_, option: string) => flag(option));

function value(option: string, kind: Kind, text: string | boolean): unknown {
  if (kind === 'boolean' || kind === 'string') return text;
  if (kind === 'list') return String(text).split(',').map((item) => item.trim());
  // Decimal only: Number() would take 0x1F90 for 8080 and '' for 0.
  if (!(kind === 'integer' ? /^-?\d+$/ : /^-?(\d+\.?\d*|\.\d+)$/).test(String(text))) fail(`${flag(option)} must be a${kind === 'integer' ? 'n integer' : ' number'}, got ${JSON.stringify(text)}`);
  return Number(text);
}

export function parseFlags(args = process.argv.slice(2)): Config {
  const all = { ...OPTIONS, ...DEMO };
  const spec = Object.fromEntries(Object.entries(all).map(([option, kind]) => [flag(option).slice(2), { type: kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]));
  // `--port -1`: parseArgs would read -1 as a flag ("argument is ambiguous"); give it the value.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1];
    if (spec[args[i].slice(2)]?.type === 'string' && next !== undefined && /^-\d/.test(next)) joined.push(`${args[i]}=${args[++i]}`);
    else joined.push(args[i]);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: joined, options: spec }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
  const read = (table: Record<string, Kind>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(table).flatMap(([option, kind]) => (values[flag(option).slice(2)] === undefined ? [] : [[option, value(option, kind, values[flag(option).slice(2)]!)]])));
  const demo = read(DEMO);
  if (demo.log !== undefined && demo.log !== 'text' && demo.log !== 'json') fail(`--log must be text or json, got ${JSON.stringify(demo.log)}`);
  const count = (option: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const n = (demo[option] as number | undefined) ?? fallback;
    if (n < min || n > max) fail(`${flag(option)} must be an integer between ${min} and ${max}, got ${JSON.stringify(String(n))}`);
    return n;
  };
  const options = read(OPTIONS) as ListenAndServeOptions;
  // The demo listens on loopback at 8080 unless told: a demo should not open a port to the network.
  if (options.path === undefined) Object.assign(options, { port: options.port ?? 8080, host: options.host ?? '127.0.0.1' });
  return {
    options,
    busyMs: count('busyMs', 0, 0),
    allocKb: count('allocKb', 0, 0),
    holdMs: count('holdMs', 0, 0),
    keepAliveMs: demo.keepAliveMs === undefined ? undefined : count('keepAliveMs', 0, 0),
    log: (demo.log as 'text' | 'json' | undefined) ?? 'text',
    stats: (demo.stats as boolean | undefined) ?? false,
    workers: count('workers', 1, 1, 64),
  };
}
