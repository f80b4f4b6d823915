/**
 * rxjs-listen: a production-ready accept loop for Node.js servers, as RxJS operators.
 *
 * ```
 * listen / fromServer  ->  logWarnings  ->  handleErrors  ->  backpressure  ->  serve
 *   accept results          log shortage      skip, pause       token per         handlers,
 *   (values, never          with a hint,      or fail           connection,       finalizer
 *    thrown)                rate-limited                         pause at limit    releases
 * ```
 *
 * @packageDocumentation
 */
export { listen, fromServer, ListenError, RELIEF_POLL_MS, type ListenOptions, type WatchOptions } from './listen';
export { isAccepted, isAcceptFailed, type Accepted, type AcceptError, type AcceptFailed, type AcceptResult, type ListenerControl } from './result';
export { classifyAcceptError, classifyFailure, CONNECTION_ERRORS, FATAL_ERRORS, RESOURCE_ERRORS, type AcceptErrorKind } from './classify';
export { errorHint } from './hint';
export { readOpenFileLimit } from './fileLimit';
export { Limiter, type LimiterOptions, type Token } from './limiter';
export { logWarnings, type AcceptWarning, type LogWarningsOptions } from './operators/logWarnings';
export { handleErrors, type HandleErrorsOptions } from './operators/handleErrors';
export { backpressure, type Admitted } from './operators/backpressure';
export { serve, type ServeOptions } from './operators/serve';
export { idleTimeout } from './operators/idleTimeout';
export { handTo } from './handTo';
export { Metrics, toPrometheus, type AcceptStats } from './metrics';
