import type { Socket } from 'node:net';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { checkInteger, checkKnownOptions, checkScheduler, optionNames } from '../util/validate';

/** Options of {@link serviceUnavailable}. */
export interface ServiceUnavailableOptions {
  /** Seconds the client is asked to wait before trying again (`Retry-After`). Default 1. */
  retryAfter?: number;
  /** How long to wait for the client to close after the answer, in ms. Default 1000. */
  lingerMs?: number;
  /** Where the linger is timed. Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

const OPTIONS = optionNames<ServiceUnavailableOptions>({ retryAfter: true, lingerMs: true, scheduler: true });

/**
 * An `onQueueTimeout` hook for plain HTTP (see {@link LimiterOptions}): answers a connection
 * that waited too long for a slot with `503 Service Unavailable` and `Retry-After` instead of a
 * bare close a client may take for a network failure. It writes the answer without reading the
 * request, then half-closes and discards what the client still sends, so that the answer is not
 * lost to a reset, until the client closes or `lingerMs` passes. Not for TLS: a socket that
 * waits has not done its handshake yet.
 *
 * @example
 * const limiter = new Limiter(100, { queueTimeout: 5000, onQueueTimeout: serviceUnavailable({ retryAfter: 2 }) });
 *
 * @throws {TypeError | RangeError} At call time, on options that are not an object, an unknown
 *   option, or an option of the wrong type or out of range, naming it and its value.
 */
export function serviceUnavailable(options: ServiceUnavailableOptions = {}): (socket: Socket) => void {
  const { retryAfter = 1, lingerMs = 1000, scheduler = asyncScheduler } = checkKnownOptions('serviceUnavailable: options', options, OPTIONS);
  checkInteger('serviceUnavailable: options.retryAfter', retryAfter, 0);
  checkInteger('serviceUnavailable: options.lingerMs', lingerMs, 1);
  checkScheduler('serviceUnavailable: options.scheduler', scheduler);
  const body = 'Service Unavailable: too many connections, try again later\n';
  const answer =
    `HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfter}\r\nConnection: close\r\n` +
    `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  return (socket) => {
    socket.on('error', () => socket.destroy()); // a client that resets now has nothing more to learn
    const linger = scheduler.schedule(() => socket.destroy(), lingerMs);
    socket.once('close', () => linger.unsubscribe());
    socket.end(answer);
    socket.resume(); // read and drop the request: unread data would make the close a reset
  };
}
