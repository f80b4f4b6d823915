import type { Socket } from 'node:net';
import { checkInstance, checkKnownOptions, checkNumber, checkOneOf, checkOptions, optionNames } from '../util/validate';
import { LoopStatus, type LoopState, type Phase } from './loopStatus';

/** Options of {@link agentCheck} and {@link agentReply}. */
export interface AgentCheckOptions {
  /**
   * The capacity ({@link LoopState.capacity}) that earns the full weight, the weight falling in proportion below it:
   * the same on every backend, about what the fastest does. Default none (the headroom alone).
   */
  fullWeightAt?: number;
}

const OPTIONS = optionNames<AgentCheckOptions>({ fullWeightAt: true });
const PHASES: readonly Phase[] = ['accepting', 'paused', 'draining', 'stopped'];

/** `fullWeightAt` of `caller`'s options, checked. */
function fullWeightOf(caller: string, options: AgentCheckOptions): number | undefined {
  const { fullWeightAt } = checkKnownOptions(`${caller}: options`, options, OPTIONS);
  return fullWeightAt === undefined ? undefined : checkNumber(`${caller}: options.fullWeightAt`, fullWeightAt, { above: 0 });
}

/**
 * The line HAProxy's agent check reads (its manual, "agent-check"): `ready up N%` while accepting,
 * the weight following the room left (at least 1%; with `fullWeightAt`, the capacity too); `drain`
 * while paused or draining, so that HAProxy sends no new connection before one would be refused;
 * `maint` once stopped. Each accepting answer says `ready`, which clears a DRAIN or MAINT the agent set.
 *
 * @param state The loop's state ({@link LoopStatus.state}).
 * @returns The line, with its newline.
 * @throws {TypeError | RangeError} On a state without a known phase, or a bad option, naming it and its value.
 */
export function agentReply(state: LoopState, options: AgentCheckOptions = {}): string {
  checkOptions('agentReply: state', state);
  checkOneOf('agentReply: state.phase', state.phase, PHASES);
  const fullWeightAt = fullWeightOf('agentReply', options);
  switch (state.phase) {
    case 'accepting': {
      const share = fullWeightAt === undefined || state.capacity === undefined ? 1 : state.capacity / fullWeightAt; // headroom caps it at 1
      return `ready up ${Math.max(1, Math.round(Math.min(state.headroom, share) * 100))}%\n`;
    }
    case 'paused':
    case 'draining':
      return 'drain\n';
    case 'stopped':
      return 'maint\n';
  }
}

/**
 * A connection handler for HAProxy's agent check on a port of its own: answers each connection
 * with one line ({@link agentReply}) and closes it. In HAProxy:
 *
 * ```
 * backend app
 *   server a 10.0.0.1:8080 check agent-check agent-port 9091 agent-inter 500ms weight 100
 * ```
 *
 * @example
 * createServer(agentCheck(status)).listen(9091);
 * createServer(agentCheck(status, { fullWeightAt: 1000 })).listen(9091); // backends of unequal speed
 *
 * @returns The handler, for `net.createServer`.
 * @throws {TypeError | RangeError} At call time, on a `status` that is not a {@link LoopStatus} or a bad option, naming it.
 */
export function agentCheck(status: LoopStatus, options: AgentCheckOptions = {}): (socket: Socket) => void {
  checkInstance('agentCheck: status', status, LoopStatus);
  const fullWeightAt = fullWeightOf('agentCheck', options);
  return (socket) => {
    socket.on('error', () => socket.destroy()); // an agent that resets has nothing more to learn
    socket.end(agentReply(status.state, { fullWeightAt }));
  };
}
