import type { Server } from 'node:net';

/**
 * Calls `onClose` each time a connection the server accepted is destroyed (its descriptor closed),
 * until the returned function is called; `undefined` where Node lacks the internal method it calls
 * on the server then, `_emitCloseIfDrained()` (early Node to 26): a listener per socket would cost every connection.
 */
export function onConnectionClosed(server: Server, onClose: () => void): (() => void) | undefined {
  const told = server as Server & { _emitCloseIfDrained?: (this: Server) => void };
  const previous = told._emitCloseIfDrained;
  if (typeof previous !== 'function') return undefined;
  const own = Object.prototype.hasOwnProperty.call(told, '_emitCloseIfDrained');
  const hook = function (this: Server): void {
    onClose();
    previous.call(this);
  };
  told._emitCloseIfDrained = hook;
  return () => {
    if (told._emitCloseIfDrained !== hook) return; // wrapped again since: stays in that chain, inert
    if (own) told._emitCloseIfDrained = previous;
    else delete told._emitCloseIfDrained;
  };
}
