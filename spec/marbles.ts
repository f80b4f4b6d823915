/* Shared test doubles for the marble specs: a listener that records its pauses in virtual
 * time, fake sockets, and result builders. */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { TestScheduler } from 'rxjs/testing';
import { Pauses } from '../src/source/pauses';
import type { Accepted, AcceptFailed, ListenerControl } from '../src/errors/result';
import type { Observable } from 'rxjs';

export function testScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

/** A listener control that records `pause@<frame>` and `resume@<frame>`. */
export class FakeListener implements ListenerControl {
  readonly events: string[] = [];
  readonly #pauses: Pauses;

  constructor(now: () => number) {
    this.#pauses = new Pauses(
      () => this.events.push(`pause@${now()}`),
      () => this.events.push(`resume@${now()}`),
    );
  }

  pause(reason: string): () => void {
    return this.#pauses.hold(reason);
  }

  get pauses(): string[] {
    return this.#pauses.reasons;
  }

  pauseTotals(): ReadonlyMap<string, { count: number; ms: number }> {
    return this.#pauses.totals();
  }

  readonly refused = 0;

  address(): string | null {
    return null;
  }

  readonly reported: unknown[] = [];
  report(error: unknown): void {
    this.reported.push(error);
  }
}

/**
 * A socket stand-in: `destroy()` (and `destroySoon()`) records and emits 'close'
 * synchronously; `bytesRead` and `bytesWritten` are set by the test.
 */
export interface FakeSocket extends Socket {
  destroyed: boolean;
  closed: boolean;
  bytesRead: number;
  bytesWritten: number;
}
export function fakeSocket(remoteAddress = '127.0.0.1'): FakeSocket {
  const socket = new EventEmitter() as unknown as FakeSocket & { remoteAddress: string; remotePort: number };
  socket.remoteAddress = remoteAddress;
  socket.remotePort = 40000;
  socket.destroyed = false;
  socket.closed = false;
  socket.bytesRead = 0;
  socket.bytesWritten = 0;
  socket.destroySoon = () => void socket.destroy();
  socket.destroy = () => {
    if (!socket.destroyed) {
      socket.destroyed = true;
      socket.closed = true;
      socket.emit('close');
    }
    return socket;
  };
  return socket;
}

export function accepted(listener: ListenerControl, socket: Socket = fakeSocket()): Accepted {
  return { type: 'connection', socket, listener };
}

export function failed(
  listener: ListenerControl,
  code: string,
  { during = 'accept', syscall = 'accept', relieved }: { during?: 'accept' | 'resume'; syscall?: string; relieved?: Observable<unknown> } = {},
): AcceptFailed {
  const error = Object.assign(new Error(`${code}: test, ${syscall}`), { code, syscall });
  return relieved === undefined ? { type: 'error', error, during, listener } : { type: 'error', error, during, listener, relieved };
}
