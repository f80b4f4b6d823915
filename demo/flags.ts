/* The demo's command line: every flag checked, a bad one named with its value (exit 2). */
import { parseArgs } from 'node:util';

export interface Config {
  host: string;
  port: number;
  limit: number;
  perPeer: number | undefined;
  /** New connections per second per address (a token bucket, burst the same). */
  perPeerRate: number | undefined;
  queue: number;
  queueTimeoutMs: number;
  keepAliveMs: number | undefined;
  idleMs: number | undefined;
  holdMs: number;
  busyMs: number;
  /** KiB of V8 heap each request allocates and holds until its response. */
  allocKb: number;
  maxLagMs: number | undefined;
  maxElu: number | undefined;
  maxHeapMb: number | undefined;
  maxRssMb: number | undefined;
  /** Unset: 500 ms on a shortage, 10 ms on overload. */
  pauseMs: number | undefined;
  graceMs: number;
  /** On SIGTERM, go on serving until traffic stops, at most this long (0: stop at once). */
  drainMs: number;
  /** Traffic has stopped when nothing arrived for this long. */
  drainQuietMs: number;
  /** Where /live, /ready and /metrics are served, if anywhere. */
  healthPort: number | undefined;
  /** Read a PROXY protocol header (v1 or v2) on connections from --trusted-proxies. */
  proxyProtocol: boolean;
  /** The proxies allowed to send one: addresses and CIDR ranges, comma-separated. */
  trustedProxies: string;
  /** How long a pause is announced (agent: drain) before the listener closes. */
  drainBeforePauseMs: number;
  /** Where HAProxy's agent check is answered, if anywhere. */
  agentPort: number | undefined;
  /** The capacity (exchanges per second of running time) that earns the agent's full weight. */
  agentFullWeightAt: number | undefined;
  log: 'text' | 'json';
  stats: boolean;
  workers: number;
}

function fail(message: string): never {
  console.error(`demo: ${message}`);
  return process.exit(2);
}

function integer(name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    fail(`--${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function fraction(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value <= 1)) fail(`--${name} must be a number above 0 and at most 1, got ${JSON.stringify(text)}`);
  return value;
}

export function parseFlags(args = process.argv.slice(2)): Config {
  const text = { type: 'string' } as const;
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        port: text, host: text, limit: text, 'per-peer': text, 'per-peer-rate': text, 'idle-ms': text, 'hold-ms': text, 'busy-ms': text, 'alloc-kb': text,
        'max-lag-ms': text, 'max-elu': text, 'max-heap-mb': text, 'max-rss-mb': text,
        'pause-ms': text, 'grace-ms': text, 'drain-ms': text, 'drain-quiet-ms': text, 'health-port': text, 'agent-port': text, 'agent-full-weight-at': text, 'proxy-protocol': { type: 'boolean' }, 'drain-before-pause-ms': text, 'trusted-proxies': text,
        queue: text, 'queue-timeout-ms': text, 'keep-alive-ms': text, log: text, workers: text, stats: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    return fail((error as Error).message);
  }
  const log = values.log ?? 'text';
  if (log !== 'text' && log !== 'json') fail(`--log must be text or json, got ${JSON.stringify(log)}`);
  if (values['agent-full-weight-at'] !== undefined && values['agent-port'] === undefined) fail('--agent-full-weight-at weighs the answers on --agent-port: give --agent-port too');
  return {
    host: values.host ?? '127.0.0.1',
    port: integer('port', values.port, 0, 65535) ?? 8080,
    limit: integer('limit', values.limit, 1) ?? 1000,
    perPeer: integer('per-peer', values['per-peer'], 1),
    perPeerRate: integer('per-peer-rate', values['per-peer-rate'], 1),
    queue: integer('queue', values.queue, 0) ?? 511,
    queueTimeoutMs: integer('queue-timeout-ms', values['queue-timeout-ms'], 1) ?? 10_000,
    keepAliveMs: integer('keep-alive-ms', values['keep-alive-ms'], 0),
    idleMs: integer('idle-ms', values['idle-ms'], 1),
    holdMs: integer('hold-ms', values['hold-ms'], 0) ?? 0,
    busyMs: integer('busy-ms', values['busy-ms'], 0) ?? 0,
    allocKb: integer('alloc-kb', values['alloc-kb'], 0) ?? 0,
    maxLagMs: integer('max-lag-ms', values['max-lag-ms'], 1),
    maxElu: fraction('max-elu', values['max-elu']),
    maxHeapMb: integer('max-heap-mb', values['max-heap-mb'], 1),
    maxRssMb: integer('max-rss-mb', values['max-rss-mb'], 1),
    pauseMs: integer('pause-ms', values['pause-ms'], 0),
    graceMs: integer('grace-ms', values['grace-ms'], 0) ?? 10_000,
    drainMs: integer('drain-ms', values['drain-ms'], 0) ?? 0,
    drainQuietMs: integer('drain-quiet-ms', values['drain-quiet-ms'], 1) ?? 1000,
    healthPort: integer('health-port', values['health-port'], 0, 65535),
    proxyProtocol: values['proxy-protocol'] ?? false,
    drainBeforePauseMs: integer('drain-before-pause-ms', values['drain-before-pause-ms'], 0) ?? 0,
    trustedProxies: values['trusted-proxies'] ?? '127.0.0.1,::1',
    agentPort: integer('agent-port', values['agent-port'], 0, 65535),
    agentFullWeightAt: integer('agent-full-weight-at', values['agent-full-weight-at'], 1),
    log: log as 'text' | 'json',
    stats: values.stats ?? false,
    workers: integer('workers', values.workers, 1, 64) ?? 1,
  };
}
