import type { IncomingMessage, ServerResponse } from 'node:http';
import { renderPrometheus } from '../metrics/prometheus';
import { checkBoolean, checkInstance, checkKnownOptions, optionNames } from '../util/validate';
import { LoopStatus, type LoopState } from './loopStatus';

/** Options of {@link healthCheck}. */
export interface HealthCheckOptions {
  /** Whether `/ready` answers 200 while the listener is paused (for ms to s: readiness would flap). Default true. */
  readyWhilePaused?: boolean;
}

const OPTIONS = optionNames<HealthCheckOptions>({ readyWhilePaused: true });

/**
 * A request handler for a health port of its own, so that checks are never limited, queued or
 * refused with the loop: `GET /live` 200 while the process runs; `GET /ready` 200 while accepting
 * (and, by default, paused), 503 while draining or stopped; both answer the {@link LoopState} as
 * JSON. `GET /metrics`: Prometheus' text format. Anything else is 404; methods but GET and HEAD 405.
 *
 * @example
 * createServer(healthCheck(status)).listen(9090);
 * // curl localhost:9090/ready  ->  200 {"phase":"accepting","pauses":[],"live":3,"limit":100,...}
 *
 * @returns The handler, for `http.createServer`.
 * @throws {TypeError} At call time, on a `status` that is not a {@link LoopStatus} or a bad option, naming it.
 */
export function healthCheck(status: LoopStatus, options: HealthCheckOptions = {}): (request: IncomingMessage, response: ServerResponse) => void {
  checkInstance('healthCheck: status', status, LoopStatus);
  const { readyWhilePaused = true } = checkKnownOptions('healthCheck: options', options, OPTIONS);
  checkBoolean('healthCheck: options.readyWhilePaused', readyWhilePaused);

  return (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') return answer(response, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD' });
    if (path === '/metrics') return answer(response, 200, 'text/plain; version=0.0.4', renderPrometheus({ stats: status.metrics.snapshot(), state: status.state }));
    if (path !== '/live' && path !== '/ready') return answer(response, 404, 'text/plain', 'not found: /live, /ready, /metrics\n');
    const state = status.state;
    const ok = path === '/live' || state.phase === 'accepting' || (state.phase === 'paused' && readyWhilePaused);
    answer(response, ok ? 200 : 503, 'application/json', `${JSON.stringify(state)}\n`);
  };
}

function answer(response: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
