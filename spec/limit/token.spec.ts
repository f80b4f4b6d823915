/* The unit spec of the token module (internal): where a socket carries its token. */
import { Limiter } from '../../src';
import { tokens } from '../../src/limit/token';
import { fakeSocket } from '../marbles';

describe('tokens on sockets', () => {
  it('carries the token of a socket admitted again after a release, with one close listener', () => {
    const limiter = new Limiter(2);
    const socket = fakeSocket();
    const first = limiter.admit(socket)!;
    expect(tokens.get(socket)).toBe(first); // what handTo reads on every request
    first.release();
    const again = limiter.admit(socket)!;
    expect(tokens.get(socket)).toBe(again);
    expect(socket.listenerCount('close')).toBe(1);
  });

  it('gives a second limiter admitting the same socket a listener of its own, leaving the first token in place', () => {
    const [outer, inner] = [new Limiter(1), new Limiter(1)];
    const socket = fakeSocket();
    const first = outer.admit(socket)!;
    inner.admit(socket);
    expect(tokens.get(socket)).toBe(first);
    expect(socket.listenerCount('close')).toBe(2);
  });
});
