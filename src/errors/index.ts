/**
 * `rxjs-listen/errors`: which accept errors are per connection, a shortage or fatal, and the
 * hint for each (docs/errors.md).
 *
 * @module errors
 */
/// <reference types="node" preserve="true" />
export { classifyAcceptError, classifyFailure, CONNECTION_ERRORS, FATAL_ERRORS, RESOURCE_ERRORS, type AcceptErrorKind } from './classify';
export { errorHint } from './hint';
export { readOpenFileLimit } from '../source/fileLimit';
