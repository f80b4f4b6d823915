/**
 * `rxjs-listen/overload`: pausing on pressure, learned limits, and the monitors that read the
 * process (event loop, memory, descriptors, accept queue, service time) while subscribed.
 *
 * @module overload
 */
/// <reference types="node" preserve="true" />
export { pauseUnderPressure, type PauseUnderPressureOptions, type Pressure, type PressureWarning } from '../operators/pauseUnderPressure';
export { adaptiveLimit, type AdaptiveLimitOptions } from './adaptiveLimit';
export { targetLimit, type TargetLimitOptions } from './targetLimit';
export { type MonitorOptions } from './monitors/options';
export { acceptQueueMs, type AcceptQueueOptions } from './monitors/acceptQueue';
export { eventLoopBusyMs } from './monitors/eventLoopBusy';
export { eventLoopDelayMs } from './monitors/eventLoopDelay';
export { eventLoopUtilization } from './monitors/eventLoopUtilization';
export { cgroupMemory, heapLimitMiB, heapUsedMiB, rssMiB, type CgroupMemoryOptions, type MemoryOptions } from './monitors/memory';
export { openFiles, type OpenFilesOptions } from './monitors/openFiles';
export { serviceTimeMs } from './monitors/serviceTime';
