import type { Socket } from 'node:net';

/** Ends a refused connection with a user's hook (`refuse`, ...); one that throws still ends it (`socket.destroy()`), and the loop goes on. */
export function endSocket(end: (socket: Socket) => void, socket: Socket): void {
  try {
    end(socket);
  } catch {
    socket.destroy();
  }
}
