import { checkOptions } from '../util/validate';
import type { AcceptError, AcceptFailed } from './result';

/**
 * What an accept error means for the accept loop:
 * - `'connection'`: one queued connection failed (its peer gave up); accept the next one now.
 * - `'resource'`: the process or the system is short of something; pause, then try again.
 * - `'fatal'`: the listening socket itself is broken; retrying cannot help.
 */
export type AcceptErrorKind = 'connection' | 'resource' | 'fatal';

/**
 * Per-connection errors: the errors accept(2) may return for one queued connection (Linux
 * man page accept(2), section ERRORS, "Linux accept() passes already-pending network errors on
 * the new socket as an error code"), as trio skips them; async-listen, Go net/http, hyper and
 * actix skip the first three.
 */
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

/**
 * Resource shortages: out of file descriptors in the process (EMFILE) or the system (ENFILE),
 * out of socket buffers or memory (ENOBUFS, ENOMEM: accept(2), trio). A pause lets live
 * connections finish and free what they hold.
 */
export const RESOURCE_ERRORS: ReadonlySet<string> = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

/**
 * Errors that mean the listening socket itself is unusable (accept(2): EBADF, EINVAL "socket is
 * not listening", ENOTSOCK, EFAULT). Listen-time errors (listen(2), bind(2): EADDRINUSE, EACCES,
 * EADDRNOTAVAIL) are fatal too when `syscall` says they came from listening.
 */
export const FATAL_ERRORS: ReadonlySet<string> = new Set(['EBADF', 'EINVAL', 'ENOTSOCK', 'EFAULT']);
const FATAL_LISTEN_ERRORS: ReadonlySet<string> = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

/**
 * Classifies an accept error. Unknown codes count as `'resource'`: pausing and logging is
 * safe, while skipping an error nobody understood would hide it and could spin.
 *
 * @example
 * classifyAcceptError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
 * // Output: 'connection'
 * classifyAcceptError(Object.assign(new Error('too many'), { code: 'EMFILE' }));
 * // Output: 'resource'
 *
 * @param error The error, with its `code` (and `syscall` for listen-time errors).
 * @returns What the accept loop should do about it.
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

/**
 * Failures to listen again after a pause that no retry can fix: the process may no longer bind
 * the address it bound at start. EACCES: a port below 1024 after the process dropped its
 * privileges (or a Unix socket's directory it may no longer write); EPERM: a security policy
 * (seccomp, a sandbox) forbids it. See `docs/errors.md`, "EACCES or EPERM when listening again".
 */
export const FATAL_RESUME_ERRORS: ReadonlySet<string> = new Set(['EACCES', 'EPERM']);

/**
 * Classifies an accept result's error. A failure to listen again after a pause is a shortage,
 * worth another try later (the listener is being rebuilt; even EADDRINUSE, the port taken
 * meanwhile by another process, may pass), except EACCES and EPERM, which are fatal: the
 * process lost the right to bind the address (a privileged port after dropping privileges),
 * and retrying forever would leave the server closed without a word.
 *
 * @example
 * classifyFailure({ type: 'error', during: 'resume', listener, error: Object.assign(new Error('listen EACCES'), { code: 'EACCES' }) });
 * // Output: 'fatal'
 *
 * @param failure An accept result's error, with `during`.
 * @returns What the accept loop should do about it.
 * @throws {TypeError} When `failure` or its `error` is not an object.
 */
export function classifyFailure(failure: AcceptFailed): AcceptErrorKind {
  checkOptions('classifyFailure: failure', failure, "an accept result's error");
  checkOptions('classifyFailure: failure.error', failure.error, 'an error');
  if (failure.during === 'resume') return FATAL_RESUME_ERRORS.has(failure.error.code ?? '') ? 'fatal' : 'resource';
  return classifyAcceptError(failure.error);
}
