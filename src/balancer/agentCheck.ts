import type { Socket } from 'node:net';
import type { LoopState, LoopStatus } from './loopStatus';

/**
 * The line HAProxy's agent check reads (`agent-check` on a server line; HAProxy's
 * configuration manual, "agent-check"): `ready up N%` while accepting, with a weight that
 * follows the room left (at least 1%); `drain` while paused or draining, so HAProxy sends no
 * new connection before one would be refused (established ones go on); `maint` once stopped.
 * HAProxy keeps a DRAIN or MAINT set by the agent until the agent says `ready`, which every
 * accepting answer does.
 */
export function agentReply(state: LoopState): string {
  switch (state.phase) {
    case 'accepting':
      return `ready up ${Math.max(1, Math.round(state.headroom * 100))}%\n`;
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
 *
 * @param status The loop's status.
 * @returns The handler, for `net.createServer`.
 */
export function agentCheck(status: LoopStatus): (socket: Socket) => void {
  return (socket) => {
    socket.on('error', () => socket.destroy()); // an agent that resets has nothing more to learn
    socket.end(agentReply(status.state));
  };
}
