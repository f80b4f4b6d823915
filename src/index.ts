/**
 * rxjs-listen: a production-ready accept loop for Node.js servers, as RxJS operators.
 *
 * ```
 * listen / fromServer  ->  logWarnings  ->  handleErrors  ->  backpressure  ->  serve
 *   accept results          log shortage      skip, pause       token per         handlers,
 *   (values, never          with a hint,      or fail           connection, a     finalizer
 *    thrown)                rate-limited                         wait queue,       releases
 *                                                                pause when full
 * ```
 *
 * @packageDocumentation
 */
// The declarations name `node:net` and `NodeJS`: this makes every .d.ts of the package (all
// reached through index.d.ts) pull in @types/node, which TypeScript 6 no longer includes by
// default. `preserve` keeps the directive in the emitted index.d.ts (TypeScript >= 5.5).
/// <reference types="node" preserve="true" />
export { isAccepted, type Accepted, type AcceptError, type AcceptFailed, type AcceptResult, type During, type ListenerControl } from './errors/result';
export { ListenError } from './errors/listenError';
export { classifyAcceptError, classifyFailure, CONNECTION_ERRORS, FATAL_ERRORS, RESOURCE_ERRORS, type AcceptErrorKind } from './errors/classify';
export { errorHint } from './errors/hint';
export { listen, fromServer, type ListenOptions } from './source/listen';
export type { KeepNewest, WatchOptions } from './source/watch';
export { readOpenFileLimit } from './source/fileLimit';
export { Limiter, type LimiterOptions, type PerPeerRate } from './limit/limiter';
export type { LimiterCounts } from './limit/counts';
export type { Token } from './limit/token';
export { serviceUnavailable, type ServiceUnavailableOptions } from './protocol/serviceUnavailable';
export { logWarnings, type AcceptWarning, type LogWarningsOptions } from './operators/logWarnings';
export { handleErrors, type HandleErrorsOptions } from './operators/handleErrors';
export { backpressure, type Admitted } from './operators/backpressure';
export { serve, type ServeOptions } from './operators/serve';
export { idleTimeout } from './operators/idleTimeout';
export { handTo } from './protocol/handTo';
export { tokenOf } from './protocol/tokenOf';
export { pauseUnderPressure, type PauseUnderPressureOptions, type Pressure, type PressureWarning } from './operators/pauseUnderPressure';
export { adaptiveLimit, type AdaptiveLimitOptions } from './overload/adaptiveLimit';
export { targetLimit, type TargetLimitOptions } from './overload/targetLimit';
export { type MonitorOptions } from './overload/monitors/options';
export { acceptQueueMs } from './overload/monitors/acceptQueue';
export { eventLoopBusyMs } from './overload/monitors/eventLoopBusy';
export { eventLoopDelayMs } from './overload/monitors/eventLoopDelay';
export { eventLoopUtilization } from './overload/monitors/eventLoopUtilization';
export { cgroupMemory, heapLimitMiB, heapUsedMiB, rssMiB, type CgroupMemoryOptions, type MemoryOptions } from './overload/monitors/memory';
export { openFiles, type OpenFilesOptions } from './overload/monitors/openFiles';
export { serviceTimeMs } from './overload/monitors/serviceTime';
export { Metrics, type AcceptStats } from './metrics/metrics';
export { toPrometheus } from './metrics/prometheus';
export { LoopStatus, type LoopState, type Phase } from './balancer/loopStatus';
export { drain, type DrainOptions } from './balancer/drain';
export { healthCheck, type HealthCheckOptions } from './balancer/healthCheck';
export { agentCheck, agentReply, type AgentCheckOptions } from './balancer/agentCheck';
export { proxyProtocol, type ProxyProtocolOptions } from './operators/proxyProtocol';
export { proxyHeaderOf, proxyPeerOf, type Peer } from './protocol/proxyPeer';
export { ProxyTlvType, type ProxyHeader, type ProxyAddress, type ProxyTlv, type ProxySsl } from './protocol/proxyHeader';
