/* Real-socket helpers for the listener specs: loopback only, every wait bounded. */
import { connect as netConnect, type Socket } from 'node:net';
import { firstValueFrom, timeout, type Observable } from 'rxjs';

export const WAIT_MS = 3000;

/** Connects, resolving with the socket once connected, rejecting with the error code. */
export function connect(target: number | string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = typeof target === 'number' ? netConnect(target, '127.0.0.1') : netConnect(target);
    socket.setTimeout(WAIT_MS, () => socket.destroy(new Error('connect timed out')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Resolves with the code a connection attempt fails with (or 'connected'). */
export async function connectOutcome(target: number | string): Promise<string> {
  try {
    const socket = await connect(target);
    socket.destroy();
    return 'connected';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  }
}

/** The first value of an Observable, or a rejection after WAIT_MS. */
export function first<T>(source: Observable<T>): Promise<T> {
  return firstValueFrom(source.pipe(timeout(WAIT_MS)));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves after `ms` without keeping the process alive (for bounded waits in clean-ups). */
export function later(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// A port free on 127.0.0.1 now (for a process that must be told its port in advance).
export { freePort } from '../../bench/support/run';
