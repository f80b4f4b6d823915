/* The 503 hook on a real socket: the answer arrives whole, then the connection closes. */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { fakeSocket, testScheduler } from '../marbles';
import { connect } from '../support/net';
import { serviceUnavailable } from '../../src';

describe('serviceUnavailable', () => {
  it('answers 503 with Retry-After without reading the request, then closes in order', async () => {
    const server = createServer({ allowHalfOpen: true }, serviceUnavailable({ retryAfter: 7 })).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const client = await connect((server.address() as AddressInfo).port);
      client.write('POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello');
      let answer = '';
      client.on('data', (chunk: Buffer) => (answer += chunk.toString()));
      await once(client, 'end'); // the server half-closed after the answer: no reset
      client.end();
      expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\nRetry-After: 7\r\nConnection: close\r\n/);
      expect(answer.endsWith('try again later\n')).toBe(true);
    } finally {
      server.close();
    }
  });

  it('destroys a socket whose client does not close within lingerMs, and no timer outlives a closed one, in virtual time', () => {
    const scheduler = testScheduler();
    scheduler.run(({ flush }) => {
      const sockets = [fakeSocket(), fakeSocket()].map((s) => Object.assign(s, { end: () => s, resume: () => s }));
      const answer = serviceUnavailable({ lingerMs: 50, scheduler });
      sockets.forEach((s) => answer(s));
      scheduler.schedule(() => sockets[1]!.destroy(), 10); // this client closes by itself
      const destroyedAt: number[] = [];
      sockets[0]!.on('close', () => destroyedAt.push(scheduler.now()));
      let pendingAt20 = -1;
      scheduler.schedule(() => (pendingAt20 = scheduler.actions.filter((a) => !a.closed).length), 20);
      flush();
      expect(destroyedAt).toEqual([50]);
      expect(pendingAt20).toBe(1); // only the first socket's linger: the closed one's was cancelled
    });
  });

  it.each([
    [{ retryAfter: -1 }, /serviceUnavailable: options.retryAfter must be an integer >= 0, got -1/],
    [{ lingerMs: 0 }, /serviceUnavailable: options.lingerMs must be an integer >= 1, got 0/],
    [{ retryAfter: '1' }, /serviceUnavailable: options.retryAfter must be a number, got "1"/],
  ])('rejects %p, naming the option and the value', (options, message) => {
    expect(() => serviceUnavailable(options as never)).toThrow(message);
  });
});
