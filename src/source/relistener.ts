import type { AddressInfo, ListenOptions, Server } from 'node:net';
import type { During } from '../errors/result';

/** `net.ListenOptions` with `reusePort` (Node >= 22.12, 23.1), which @types/node 20 lacks. */
export type Where = ListenOptions & { reusePort?: boolean };

/** How to listen again, where Node does not tell how the server first listened. */
export interface ListenAgain {
  backlog?: number;
  reusePort?: boolean;
  ipv6Only?: boolean;
}

/**
 * Pauses a server by closing its listening socket, and resumes it by listening again where it
 * was first bound: the bound address and port, so port 0 keeps its port and a host name is not
 * looked up again, with the same backlog and `reusePort`. (Node has no way to stop accept(2)
 * on an open listening socket.) It also tells which phase a server error belongs to.
 */
export class Relistener {
  #where: Where | undefined;
  #address: AddressInfo | string | null = null;
  #resuming = false;

  /**
   * @param server The server to close and listen again.
   * @param again The backlog, `reusePort` and `ipv6Only` to listen again with.
   */
  constructor(
    private readonly server: Server,
    private readonly again: ListenAgain,
  ) {}

  /** The address first bound, kept while paused; `null` before. */
  get address(): AddressInfo | string | null {
    return this.#address;
  }

  /** Whether the server has listened once: only then can it listen again. */
  get started(): boolean {
    return this.#where !== undefined;
  }

  /** Closes the listening socket; connections already accepted are untouched. */
  stop(): void {
    if (this.server.listening) this.server.close();
  }

  /** Listens again where the server first listened (nothing before it has). */
  resume(): void {
    if (this.#where === undefined) return;
    this.#resuming = true;
    this.server.listen(this.#where);
  }

  /**
   * The server emitted 'listening'.
   *
   * @returns Its address the first time, `undefined` after.
   */
  listened(): AddressInfo | string | undefined {
    this.#resuming = false;
    if (this.#where !== undefined) return undefined;
    const address = this.server.address()!;
    const { backlog, reusePort, ipv6Only } = this.again;
    this.#address = address;
    this.#where = typeof address === 'string' ? { path: address, backlog } : { host: address.address, port: address.port, backlog, ipv6Only, reusePort };
    return address;
  }

  /**
   * The server emitted 'error'.
   *
   * @returns What it was doing: starting (it never listened), listening again, or accepting.
   */
  failed(): During {
    if (this.#where === undefined && !this.server.listening) return 'start';
    const during = this.#resuming ? 'resume' : 'accept';
    this.#resuming = false;
    return during;
  }
}
