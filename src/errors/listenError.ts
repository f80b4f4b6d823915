import { checkOneOf, checkOptions } from '../util/validate';
import { errorHint } from './hint';
import type { AcceptError, During } from './result';

/** Listening failed at start, or listening again after a pause was refused for good (`during: 'resume'`: EACCES or EPERM). */
export class ListenError extends Error {
  /** Always `'ListenError'`. */
  override readonly name = 'ListenError';
  /** The error code: `'EADDRINUSE'`, `'EACCES'`, `'EADDRNOTAVAIL'`, ... */
  readonly code: string | undefined;
  /** The call that failed: `'listen'`, `'bind'`, `'getaddrinfo'`, ... */
  readonly syscall: string | undefined;
  /** What to do about it, with a link into `docs/errors.md` (also in the message). */
  readonly hint: string | undefined;

  /**
   * @param cause The error Node reported.
   * @param during Whether listening failed at start or when listening again after a pause.
   * @throws {TypeError} When `cause` is not an object, or `during` neither `'start'` nor `'resume'`.
   */
  constructor(
    override readonly cause: AcceptError,
    readonly during: Exclude<During, 'accept'> = 'start',
  ) {
    checkOptions('ListenError: cause', cause, 'an error');
    checkOneOf('ListenError: during', during, ['start', 'resume']);
    const hint = errorHint(cause, during);
    super(hint === undefined ? cause.message : `${cause.message}. ${hint}`);
    this.code = cause.code;
    this.syscall = cause.syscall;
    this.hint = hint;
  }
}
