import type { Socket } from 'node:net';

/**
 * Ends a refused connection with a user's hook (`refuse`, `onExceeded`, ...); a hook that
 * throws still ends it (`socket.destroy()`), and the loop goes on.
 *
 * @param end The hook.
 * @param socket The connection.
 */
export function endSocket(end: (socket: Socket) => void, socket: Socket): void {
  try {
    end(socket);
  } catch {
    socket.destroy();
  }
}
