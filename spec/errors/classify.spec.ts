import { failed, FakeListener, testScheduler } from '../marbles';
import { classifyAcceptError, classifyFailure, CONNECTION_ERRORS, RESOURCE_ERRORS } from '../../src/errors';
import { handleErrors } from '../../src';

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
  it('retries a failure to listen again, even a fatal-looking one (the port taken meanwhile)', () => {
    const listener = new FakeListener(() => 0);
    expect(classifyFailure(failed(listener, 'EADDRINUSE', { during: 'resume', syscall: 'listen' }))).toBe('resource');
    expect(classifyFailure(failed(listener, 'EMFILE', { during: 'resume', syscall: 'listen' }))).toBe('resource');
    expect(classifyFailure(failed(listener, 'EBADF'))).toBe('fatal');
  });

  it.each(['EACCES', 'EPERM'])('fails on %s when listening again: the process may no longer bind the address', (code) => {
    const listener = new FakeListener(() => 0);
    expect(classifyFailure(failed(listener, code, { during: 'resume', syscall: 'listen' }))).toBe('fatal');
    // While accepting, EPERM is one connection's (a firewall rule), EACCES an unknown code.
    expect(classifyFailure(failed(listener, code))).toBe(code === 'EPERM' ? 'connection' : 'resource');
  });

  it.each(['EACCES', 'EPERM'])('makes handleErrors end the stream with %s from listening again, without pausing', (code) => {
    const scheduler = testScheduler();
    scheduler.run(({ cold, expectObservable, flush }) => {
      const listener = new FakeListener(() => scheduler.now());
      const v = { r: failed(listener, code, { during: 'resume', syscall: 'listen' }), a: failed(listener, 'EADDRINUSE', { during: 'resume', syscall: 'listen' }) };
      expectObservable(cold('-a-r-a-|', v).pipe(handleErrors(1))).toBe('---#', {}, v.r.error);
      flush();
      expect(listener.events).toEqual(['pause@1', 'resume@2']); // only EADDRINUSE paused
    });
  });
});
