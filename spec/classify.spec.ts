import { classifyAcceptError, classifyFailure, CONNECTION_ERRORS, RESOURCE_ERRORS } from '../src/classify';
import { failed, FakeListener } from './marbles';

const error = (code: string | undefined, syscall = 'accept') => Object.assign(new Error(String(code)), { code, syscall });

describe('classifyAcceptError', () => {
  it.each(['ECONNRESET', 'ECONNABORTED', 'EPROTO', 'EPERM', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNREFUSED'])(
    'skips the per-connection error %s',
    (code) => expect(classifyAcceptError(error(code))).toBe('connection'),
  );

  it.each(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM'])('pauses on the resource shortage %s', (code) =>
    expect(classifyAcceptError(error(code))).toBe('resource'),
  );

  it.each(['EBADF', 'EINVAL', 'ENOTSOCK'])('fails on the broken listener %s', (code) =>
    expect(classifyAcceptError(error(code))).toBe('fatal'),
  );

  it.each(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'])('fails on %s from listen, and pauses on it elsewhere', (code) => {
    expect(classifyAcceptError(error(code, 'listen'))).toBe('fatal');
    expect(classifyAcceptError(error(code, 'accept'))).toBe('resource');
  });

  it('treats unknown and missing codes as a shortage, never as skippable', () => {
    expect(classifyAcceptError(error('EWHATEVER'))).toBe('resource');
    expect(classifyAcceptError(error(undefined))).toBe('resource');
  });

  it('keeps the three lists apart', () => {
    for (const code of CONNECTION_ERRORS) expect(RESOURCE_ERRORS.has(code)).toBe(false);
  });
});

describe('classifyFailure', () => {
  it('retries any failure to listen again, even a fatal-looking one', () => {
    const listener = new FakeListener(() => 0);
    expect(classifyFailure(failed(listener, 'EADDRINUSE', { during: 'resume', syscall: 'listen' }))).toBe('resource');
    expect(classifyFailure(failed(listener, 'EBADF'))).toBe('fatal');
  });
});
