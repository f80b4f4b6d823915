/**
 * rxjs-listen: a production-ready accept loop for Node.js servers, as RxJS operators.
 *
 * The one call: `listenAndServe(server, options)`; its policy as one operator: `acceptLoop(options)`. The pipeline,
 * for RxJS servers of one's own: `listen` / `fromServer` (accept results as values, never thrown) -> `logWarnings`
 * (shortages, with a hint, rate-limited) -> `handleErrors` (skip, pause or fail) -> `backpressure` (a token per
 * connection, a wait queue, a pause when full) -> `serve` (the handlers; a finalizer releases the token). More under
 * subpaths: `rxjs-listen/overload`, `/balancer`, `/metrics`, `/proxy`, `/errors`.
 *
 * @packageDocumentation
 */
// The declarations name `node:net` and `NodeJS`: every .d.ts (all reached through index.d.ts) pulls in @types/node, which
// TypeScript 6 no longer includes by default; `preserve` keeps the directive in the emitted file (TypeScript >= 5.5).
/// <reference types="node" preserve="true" />
export { listenAndServe, type ListenAndServeOptions, type Serving, type ServingAddresses } from './server/listenAndServe';
export { acceptLoop, type AcceptLoop, type AcceptLoopOptions } from './server/acceptLoop';
export type { LevelLogger, LogFunction, LogLevel, Logger } from './server/log';
export { listen, fromServer, type ListenOptions } from './source/listen';
export type { KeepNewest, WatchOptions } from './source/watch';
export { isAccepted, type Accepted, type AcceptError, type AcceptFailed, type AcceptResult, type During, type ListenerControl, type PauseTotal } from './errors/result';
export { ListenError } from './errors/listenError';
export { logWarnings, type AcceptWarning, type LogWarningsOptions } from './operators/logWarnings';
export { handleErrors, type HandleErrorsOptions } from './operators/handleErrors';
export { backpressure, type Admitted } from './operators/backpressure';
export { Limiter, type LimiterOptions, type PerPeerRate } from './limit/limiter';
export type { LimiterCounts } from './limit/counts';
export type { HistogramData } from './util/histogram';
export type { Token } from './limit/token';
export { serve, type ServeOptions } from './operators/serve';
export { silenceTimeout } from './operators/silenceTimeout';
export { handTo } from './protocol/handTo';
export { tokenOf } from './protocol/tokenOf';
export { serviceUnavailable, type ServiceUnavailableOptions } from './protocol/serviceUnavailable';
