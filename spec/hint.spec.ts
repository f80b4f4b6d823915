import { errorHint } from '../src/hint';

const error = (code: string, extra: object = {}) => Object.assign(new Error(code), { code }, extra);

describe('errorHint', () => {
  it('tells how to raise the per-process open-file limit for EMFILE, with a link', () => {
    const hint = errorHint(error('EMFILE'))!;
    expect(hint).toContain('ulimit -n');
    expect(hint).toContain('LimitNOFILE');
    expect(hint).toContain('--ulimit nofile=');
    expect(hint).toContain('docs/errors.md#emfile');
  });

  it('points at the system-wide limit for ENFILE', () => {
    expect(errorHint(error('ENFILE'))).toContain('fs.file-max');
  });

  it.each(['ENOBUFS', 'ENOMEM'])('suggests a lower connection limit for %s', (code) => {
    expect(errorHint(error(code))).toContain('connection limit');
  });

  it('tells how to find the process holding the port for EADDRINUSE', () => {
    expect(errorHint(error('EADDRINUSE'))).toMatch(/ss -ltnp|lsof/);
  });

  it('explains privileged ports for EACCES below 1024, and permissions otherwise', () => {
    expect(errorHint(error('EACCES', { port: 80 }))).toContain('CAP_NET_BIND_SERVICE');
    expect(errorHint(error('EACCES', { port: 8080 }))).toContain('permissions');
  });

  it('has no hint for codes it does not know', () => {
    expect(errorHint(error('ECONNRESET'))).toBeUndefined();
  });
});
