/* A pause announced before the listening socket closes (announcePause), with real sockets. */
import type { AddressInfo } from 'node:net';
import { filter, ReplaySubject, type Subscription } from 'rxjs';
import { connect, connectOutcome, first, sleep } from '../support/net';
import { listen, type Accepted, type AcceptResult } from '../../src';

describe('listen({ announcePause })', () => {
  let subscription: Subscription | undefined;
  afterEach(() => subscription?.unsubscribe());

  async function started(announcePause: number) {
    const results = new ReplaySubject<AcceptResult>();
    const address = new ReplaySubject<AddressInfo>(1);
    subscription = listen({ host: '127.0.0.1', port: 0, announcePause, onListening: (a) => address.next(a as AddressInfo) }).subscribe(results);
    const { port } = await first(address);
    const client = await connect(port); // a first connection, for the listener's control
    const { listener } = await first(results.pipe(filter((r): r is Accepted => r.type === 'connection')));
    client.destroy();
    return { port, listener };
  }

  it('shows the pause at once, keeps accepting for the delay, then closes the listening socket', async () => {
    const { port, listener } = await started(300);
    listener.pause('limit');
    expect(listener.pauses).toEqual(['limit']); // what the agent and readiness read: at once
    expect(await connectOutcome(port)).toBe('connected'); // still accepting
    await sleep(450);
    expect(await connectOutcome(port)).toBe('ECONNREFUSED');
  });

  it('never closes the socket for a pause released within the delay', async () => {
    const { port, listener } = await started(300);
    const resume = listener.pause('pressure:eventLoopBusyMs');
    await sleep(100);
    resume();
    await sleep(350);
    expect([listener.pauses, await connectOutcome(port)]).toEqual([[], 'connected']);
  });

  it('rejects a bad delay, naming it', () => {
    expect(() => listen({ port: 0, announcePause: -1 })).toThrow('listen: options.announcePause must be a finite number of milliseconds >= 0, got -1');
  });
});
