/**
 * `rxjs-listen/balancer`: what load balancers and orchestrators read: the loop's state,
 * readiness and liveness over HTTP, HAProxy's agent check, the drain before a shutdown.
 *
 * @module balancer
 */
/// <reference types="node" preserve="true" />
export { LoopStatus, type LoopState, type Phase } from './loopStatus';
export { drain, type DrainOptions } from './drain';
export { healthCheck, type HealthCheckOptions } from './healthCheck';
export { agentCheck, agentReply, type AgentCheckOptions } from './agentCheck';
