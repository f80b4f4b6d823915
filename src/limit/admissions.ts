import type { Socket } from 'node:net';
import type { Token } from './token';

/** What a {@link index!Limiter} counts: anything that carries a connection's socket. @internal */
export interface WithSocket {
  /** The connection's socket. */
  readonly socket: Socket;
}

/** Where a {@link index!Limiter} hands a connection that gets its slot, at once or after waiting. @internal */
export interface Admissions<C> {
  /** The connection has its slot. */
  admitted(connection: C, token: Token): void;
  /** An `onQueueTimeout` hook threw while ending one of this owner's waiting connections. */
  failed(error: unknown): void;
}
