import type { Server } from 'node:net';

/** A server as Node's net module drives it: told of each closed connection (internal). */
type Told = Server & { _emitCloseIfDrained?: (this: Server) => void };

/**
 * Calls `onClose` each time a connection the server accepted is destroyed (its descriptor is
 * closed by then), until the returned function is called.
 *
 * Node tells a server of each such close by calling its `_emitCloseIfDrained()` (which emits
 * 'close' once a closed server has no connection left): not a public API, but there from early
 * Node to 26 (the suite runs on 20 to 26), and the only way to learn of closes without a
 * listener on every socket, a cost every connection would pay. Where Node has no such method,
 * this returns `undefined` and the caller polls instead.
 *
 * @returns The function that stops the calls, or `undefined` where Node has no hook for closes.
 */
export function onConnectionClosed(server: Server, onClose: () => void): (() => void) | undefined {
  const told = server as Told;
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
