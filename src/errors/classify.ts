import { checkOptions } from '../util/validate';
import type { AcceptError, AcceptFailed } from './result';

/**
 * What an accept error means for the accept loop:
 * - `'connection'`: one queued connection failed (its peer gave up); accept the next one now.
 * - `'resource'`: the process or the system is short of something; pause, then try again.
 * - `'fatal'`: the listening socket itself is broken; retrying cannot help.
 */
export type AcceptErrorKind = 'connection' | 'resource' | 'fatal';

/** Per-connection errors: the pending network errors accept(2) may return for one queued connection (Linux accept(2), ERRORS), as trio skips them. */
export const CONNECTION_ERRORS: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNABORTED',
  'ECONNRESET',
  'EPERM', // firewall rules forbid the connection
  'EPROTO',
  'ENETDOWN',
  'ENOPROTOOPT',
  'EHOSTDOWN',
  'ENONET',
  'EHOSTUNREACH',
  'EOPNOTSUPP',
  'ENETUNREACH',
  'ENOSR',
  'ESOCKTNOSUPPORT',
  'EPROTONOSUPPORT',
  'ETIMEDOUT',
]);

/** Resource shortages: descriptors of the process or the system, socket buffers, memory. A pause lets live connections free what they hold. */
export const RESOURCE_ERRORS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/** The listening socket itself is unusable (accept(2)); EADDRINUSE, EACCES and EADDRNOTAVAIL are fatal too from listen or bind. */
export const FATAL_ERRORS: ReadonlySet<string> = new Set(['EBADF', 'EINVAL', 'ENOTSOCK', 'EFAULT']);
const FATAL_LISTEN_ERRORS: ReadonlySet<string> = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

/**
 * Classifies an accept error. Unknown codes count as `'resource'`: pausing and logging is
 * safe, while skipping an error nobody understood would hide it and could spin.
 *
 * @example
 * classifyAcceptError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
 * // Output: 'connection'
 *
 * @param error The error, with its `code` (and `syscall` for listen-time errors).
 * @throws {TypeError} When `error` is not an object.
 */
export function classifyAcceptError(error: AcceptError): AcceptErrorKind {
  const code = checkOptions('classifyAcceptError: error', error, 'an error').code ?? '';
  if (CONNECTION_ERRORS.has(code)) return 'connection';
  if (RESOURCE_ERRORS.has(code)) return 'resource';
  if (FATAL_ERRORS.has(code)) return 'fatal';
  if (FATAL_LISTEN_ERRORS.has(code) && (error.syscall === 'listen' || error.syscall === 'bind')) return 'fatal';
  return 'resource';
}

/** Failures to listen again after a pause that no retry can fix (privileges dropped, a policy): `docs/errors.md`, "EACCES or EPERM when listening again". */
export const FATAL_RESUME_ERRORS: ReadonlySet<string> = new Set(['EACCES', 'EPERM']);

/**
 * Classifies an accept result's error. A failure to listen again after a pause is a shortage,
 * worth another try (even EADDRINUSE: the port taken meanwhile may be freed), except EACCES and
 * EPERM, which are fatal: retrying forever would leave the server closed without a word.
 *
 * @example
 * classifyFailure({ type: 'error', during: 'resume', listener, error: Object.assign(new Error('listen EACCES'), { code: 'EACCES' }) });
 * // Output: 'fatal'
 *
 * @param failure An accept result's error, with `during`.
 * @throws {TypeError} When `failure` or its `error` is not an object.
 */
export function classifyFailure(failure: AcceptFailed): AcceptErrorKind {
  checkOptions('classifyFailure: failure', failure, "an accept result's error");
  checkOptions('classifyFailure: failure.error', failure.error, 'an error');
  if (failure.during === 'resume') return FATAL_RESUME_ERRORS.has(failure.error.code ?? '') ? 'fatal' : 'resource';
  return classifyAcceptError(failure.error);
}
