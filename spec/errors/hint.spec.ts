import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errorHint } from '../../src/errors';

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
    // A Unix socket in a missing or read-only folder (Node gives its path as address, port -1): not the ports' hint.
    expect(errorHint(error('EACCES', { port: -1, address: '/run/missing/app.sock' }))).toMatch(/^The Unix socket's folder must exist and be writable/);
  });

  it.each(['EACCES', 'EPERM'])('explains %s when listening again after a pause: privileges dropped since the first listen', (code) => {
    const hint = errorHint(error(code, { syscall: 'listen', port: 80 }), 'resume')!;
    expect(hint).toMatch(/^Listening again after a pause was refused/);
    expect(hint).toContain('below 1024');
    expect(hint).toContain('CAP_NET_BIND_SERVICE');
    expect(hint).toMatch(/port >= 1024 behind a proxy or an iptables redirect/);
    expect(hint).toMatch(/\{ queueSize \}.*higher limit/);
    expect(hint).toMatch(/docs\/errors\.md#eacces-or-eperm-when-listening-again$/);
    // At start, the same EACCES gets the privileged-port hint; an EPERM while accepting has none.
    expect(errorHint(error(code, { syscall: 'listen', port: 80 }))).toBe(code === 'EACCES' ? errorHint(error('EACCES', { port: 80 }), 'accept') : undefined);
  });

  it('points every hint at a section of docs/errors.md that exists', () => {
    const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    // GitHub's anchors: lower case, spaces to dashes, other punctuation dropped.
    const anchors = new Set([...doc.matchAll(/^#+ (.+)$/gm)].map(([, title]) => title!.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-')));
    const hints = ['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM', 'EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL'].map((code) => errorHint(error(code, { port: 80 })));
    hints.push(errorHint(error('EACCES'), 'resume'), errorHint(error('EPERM'), 'resume'));
    for (const hint of hints) expect(anchors).toContain(/#([a-z0-9-]+)$/.exec(hint!)![1]);
  });

  it('has no hint for codes it does not know', () => {
    expect(errorHint(error('ECONNRESET'))).toBeUndefined();
  });
});
