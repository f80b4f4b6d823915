import { Limiter, type LimiterOptions, type Token } from '../../src';
import { fakeSocket, testScheduler, type FakeSocket } from '../marbles';

describe('Limiter', () => {
  it('releases the token of a socket admitted again after a release when it closes', () => {
    const limiter = new Limiter(2);
    const socket = fakeSocket();
    limiter.admit(socket)!.release();
    const again = limiter.admit(socket)!;
    socket.destroy();
    expect(again.released).toBe(true);
    expect(limiter.live).toBe(0);
  });

  it('releases the tokens of two limiters that admitted the same socket when it closes', () => {
    const [outer, inner] = [new Limiter(2), new Limiter(2)];
    const socket = fakeSocket();
    const tokens = [outer.admit(socket)!, inner.admit(socket)!];
    expect(outer.live + inner.live).toBe(2);
    socket.destroy();
    expect(tokens.every((token) => token.released)).toBe(true);
    expect(outer.live + inner.live).toBe(0);
  });

  it('counts admitted sockets and releases a token when its socket closes', () => {
    const limiter = new Limiter(2);
    const socket = fakeSocket();
    const token = limiter.admit(socket)!;
    expect(limiter.live).toBe(1);
    socket.destroy();
    expect(token.released).toBe(true);
    expect(limiter.live).toBe(0);
  });

  it('frees one slot only when a token is released twice, or released and then closed', () => {
    const limiter = new Limiter(3);
    const socket = fakeSocket();
    const token = limiter.admit(socket)!;
    limiter.admit(fakeSocket());
    token.release();
    token.release();
    socket.destroy();
    expect(limiter.live).toBe(1);
  });

  it('gives a socket that closed before admission a released token and no slot', () => {
    const limiter = new Limiter(1);
    const gone = fakeSocket();
    gone.destroy();
    expect(limiter.admit(gone)?.released).toBe(true);
    expect(limiter.live).toBe(0);
    expect(limiter.admit(fakeSocket())?.released).toBe(false);
  });

  it('drops a socket over the limit: destroyed, counted, no token', () => {
    const limiter = new Limiter(1);
    limiter.admit(fakeSocket());
    const extra = fakeSocket();
    expect(limiter.admit(extra)).toBeUndefined();
    expect(extra.destroyed).toBe(true);
    expect(limiter.counts.dropped).toBe(1);
    expect(limiter.live).toBe(1);
  });

  it('changes the limit live without touching live connections', () => {
    const limiter = new Limiter(3);
    const sockets = [fakeSocket(), fakeSocket(), fakeSocket()];
    for (const s of sockets) limiter.admit(s);
    limiter.setLimit(1);
    expect(limiter.live).toBe(3);
    expect(sockets.some((s) => s.destroyed)).toBe(false);
    expect(limiter.full).toBe(true);
    sockets[0]!.destroy();
    sockets[1]!.destroy();
    expect(limiter.full).toBe(true);
    sockets[2]!.destroy();
    expect(limiter.full).toBe(false);
  });

  it('announces when it starts or stops refusing, and every new limit', () => {
    const limiter = new Limiter(2, { queueSize: 0 });
    const seen: boolean[] = [];
    const subscription = limiter.changes.subscribe(() => seen.push(limiter.full));
    const first = limiter.admit(fakeSocket())!; // 1 of 2: no change at the boundary
    const second = limiter.admit(fakeSocket())!; // full
    second.release(); // not full
    first.release(); // no change at the boundary
    limiter.setLimit(5);
    subscription.unsubscribe();
    expect(seen).toEqual([true, false, false]);
  });

  it.each([
    [0, RangeError, /Limiter: limit must be an integer >= 1, got 0/],
    [-1, RangeError, /got -1/],
    [1.5, RangeError, /got 1.5/],
    [NaN, TypeError, /Limiter: limit must be a number, got NaN/],
    ['10', TypeError, /got "10"/],
  ])('rejects the limit %p, naming it', (limit, type, message) => {
    expect(() => new Limiter(limit as number)).toThrow(type);
    expect(() => new Limiter(limit as number)).toThrow(message);
    expect(() => new Limiter(1).setLimit(limit as number)).toThrow(/Limiter.setLimit: limit/);
  });
});

describe('Limiter per peer', () => {
  it('closes a connection over the per-peer limit without taking a slot, and lets other peers in', () => {
    const limiter = new Limiter(10, { perPeer: 2 });
    const mine = [fakeSocket('10.0.0.1'), fakeSocket('10.0.0.1'), fakeSocket('10.0.0.1')];
    const tokens = mine.map((s) => limiter.admit(s));
    expect(tokens.map((t) => t !== undefined)).toEqual([true, true, false]);
    expect(mine[2]!.destroyed).toBe(true);
    expect(limiter.counts.droppedPerPeer).toBe(1);
    expect(limiter.liveFrom('10.0.0.1')).toBe(2);
    expect(limiter.admit(fakeSocket('10.0.0.2'))).toBeDefined();
    mine[0]!.destroy();
    expect(limiter.liveFrom('10.0.0.1')).toBe(1);
    expect(limiter.admit(fakeSocket('10.0.0.1'))).toBeDefined();
  });

  it('forgets a peer with its last connection', () => {
    const limiter = new Limiter(10, { perPeer: 1 });
    const socket = fakeSocket('10.0.0.9');
    limiter.admit(socket)!.release();
    socket.destroy();
    expect(limiter.liveFrom('10.0.0.9')).toBe(0);
    expect(limiter.admit(fakeSocket('10.0.0.9'))).toBeDefined();
  });

  it.each([0, 2.5, NaN])('rejects perPeer %p, naming it', (perPeer) => {
    expect(() => new Limiter(10, { perPeer })).toThrow(/Limiter: options.perPeer must be/);
  });

  it('counts a waiting connection against its address, so one client cannot fill the queue', () => {
    const limiter = new Limiter(1, { perPeer: 2, queueTimeout: Infinity });
    const owner = { admitted: () => undefined, failed: () => undefined };
    expect(['10.0.0.1', '10.0.0.1', '10.0.0.1', '10.0.0.2'].map((ip) => limiter.enter({ socket: fakeSocket(ip) }, owner))).toEqual(['admitted', 'queued', 'dropped', 'queued']);
    expect([limiter.liveFrom('10.0.0.1'), limiter.waiting, limiter.counts.droppedPerPeer]).toEqual([2, 2, 1]);
  });
});

describe('Limiter queue', () => {
  const entered = (limiter: Limiter, sockets: FakeSocket[]) => {
    const admitted: FakeSocket[] = [];
    const tokens: Token[] = [];
    const owner = { admitted: (c: { socket: FakeSocket }, t: Token) => void (admitted.push(c.socket), tokens.push(t)), failed: (e: unknown) => { throw e; } };
    const outcomes = sockets.map((socket) => limiter.enter({ socket }, owner));
    return { admitted, tokens, outcomes };
  };

  it('admits waiting connections first in first out as slots free, and when the limit is raised', () => {
    const limiter = new Limiter(1, { queueSize: 3 });
    const sockets = [1, 2, 3, 4, 5].map(() => fakeSocket());
    const { admitted, outcomes } = entered(limiter, sockets);
    expect(outcomes).toEqual(['admitted', 'queued', 'queued', 'queued', 'dropped']);
    expect([limiter.refusing, limiter.waiting, limiter.counts.dropped]).toEqual([true, 3, 1]);
    sockets[0]!.destroy();
    expect(admitted).toEqual(sockets.slice(0, 2));
    limiter.setLimit(3);
    expect(admitted).toEqual(sockets.slice(0, 4));
    expect([limiter.live, limiter.waiting, limiter.counts.admittedFromQueue, limiter.refusing]).toEqual([3, 0, 3, false]);
  });

  it('lets a client that closes before sending anything leave the queue (half-open sockets included)', () => {
    const limiter = new Limiter(1);
    const [first, closes, ends] = [fakeSocket(), fakeSocket(), fakeSocket()];
    entered(limiter, [first, closes, ends]);
    closes.destroy();
    ends.emit('end');
    expect([limiter.waiting, limiter.counts.gaveUp, ends.destroyed]).toEqual([0, 2, true]);
    expect(ends.listenerCount('error')).toBe(0); // its watchers are gone
  });

  it('keeps a waiting socket from crashing the process on a reset, and leaves no listener on admission', () => {
    const limiter = new Limiter(1);
    const [first, waiting] = [fakeSocket(), fakeSocket()];
    entered(limiter, [first, waiting]);
    expect(() => waiting.emit('error', new Error('ECONNRESET'))).not.toThrow();
    first.destroy();
    expect([waiting.listenerCount('error'), waiting.listenerCount('end'), waiting.listenerCount('close')]).toEqual([0, 0, 1]); // 1: its token's
  });

  it('does not take for idle a connection that received bytes since it was marked idle', () => {
    const limiter = new Limiter(1);
    const [a, b] = [fakeSocket(), fakeSocket()];
    const { tokens } = entered(limiter, [a]);
    tokens[0]!.idle();
    a.bytesRead = 40; // its next request is arriving
    entered(limiter, [b]);
    expect([a.destroyed, limiter.waiting, limiter.counts.reclaimed]).toEqual([false, 1, 0]);
    tokens[0]!.idle(); // its answer went out: idle again, and now it goes
    expect([a.destroyed, limiter.waiting, limiter.counts.reclaimed]).toEqual([true, 0, 1]);
  });

  it('counts completed exchanges: each idle() after work, and each release while busy, not a release while idle', () => {
    const limiter = new Limiter(3);
    const plain = limiter.admit(fakeSocket())!; // nothing marks it: the whole connection is one exchange
    plain.release();
    const http = limiter.admit(fakeSocket())!;
    http.idle(); // the first request answered
    http.idle(); // again, without busy() in between: not another exchange
    http.busy();
    http.busy(); // nested: one exchange in flight twice
    http.idle();
    http.idle(); // the second request answered
    http.release(); // closed while idle
    const aborted = limiter.admit(fakeSocket())!;
    aborted.idle();
    aborted.busy();
    aborted.release(); // closed in the middle of an exchange: it ended
    expect(limiter.counts.completed).toBe(5);
  });

  it('changes the queue size: waiters beyond a smaller size keep their place, newcomers are refused until below it', () => {
    const limiter = new Limiter(1, { queueSize: 4 });
    const owner = { admitted: () => undefined, failed: (e: unknown) => { throw e; } };
    const sockets = Array.from({ length: 4 }, () => fakeSocket());
    expect(sockets.map((socket) => limiter.enter({ socket }, owner))).toEqual(['admitted', 'queued', 'queued', 'queued']);
    const changes: unknown[] = [];
    limiter.changes.subscribe((c) => changes.push(c));
    limiter.setQueueSize(1);
    expect([limiter.queueSize, limiter.waiting, limiter.refusing, changes.length]).toEqual([1, 3, true, 1]); // refusing now: the listener pauses
    expect(limiter.enter({ socket: fakeSocket() }, owner)).toBe('dropped');
    sockets[0]!.destroy(); // the first waiter gets the slot
    sockets[1]!.destroy();
    sockets[2]!.destroy(); // one waits: the queue is full again
    expect([limiter.waiting, limiter.refusing]).toEqual([0, false]);
    expect(() => limiter.setQueueSize(-1)).toThrow('Limiter.setQueueSize: size must be an integer >= 0, got -1');
  });

  it.each([
    [{ queueSize: -1 }, /Limiter: options.queueSize must be an integer >= 0, got -1/],
    [{ queueTimeout: 0 }, /Limiter: options.queueTimeout must be an integer >= 1, got 0/],
    [{ queueTimeout: NaN }, /Limiter: options.queueTimeout must be a number, got NaN/],
    [{ onQueueTimeout: 'close' }, /Limiter: options.onQueueTimeout must be a function, got "close"/],
  ])('rejects %p, naming the option and the value', (options, message) => {
    expect(() => new Limiter(1, options as LimiterOptions)).toThrow(message);
  });

  it('reports its counts as a copy taken when read', () => {
    const limiter = new Limiter(1, { queueSize: 0 });
    limiter.admit(fakeSocket());
    const before = limiter.counts;
    limiter.admit(fakeSocket());
    expect([before.dropped, limiter.counts.dropped]).toEqual([0, 1]);
  });

  it('with closeIdleAfter, a withdrawal closes an idle connection only once it has stayed unused that long, in virtual time', () => {
    testScheduler().run(({ flush, cold }) => {
      const limiter = new Limiter(10);
      const admitted: Token[] = [];
      const owner = { admitted: (_: unknown, token: Token) => void admitted.push(token), failed: () => undefined };
      const [a, b, c] = [fakeSocket(), fakeSocket(), fakeSocket()];
      for (const socket of [a, b, c]) limiter.enter({ socket }, owner);
      admitted[0]!.idle(); // a: idle
      admitted[1]!.idle(); // b: idle, then a request arrives on it
      limiter.closeIdleAfter(100);
      cold('a 49ms b 99ms c').subscribe((at) => {
        if (at === 'a') limiter.withdraw(owner);
        if (at === 'b') b.bytesRead = 40; // a request on its way to b
        if (at === 'c') admitted[2]!.idle(); // c goes idle after the withdrawal
      });
      const seen: string[] = [];
      cold('1ms a 98ms b 101ms c 100ms d').subscribe((at) => seen.push(`${at}:${[a, b, c].map((s) => (s.destroyed ? 'x' : 'o')).join('')}`));
      flush();
      // Sweeps at 100, 200, 300 ms: at the first nothing has been idle a whole period; at the second
      // a is closed, b (bytes arrived since it went idle) is not; c, idle since 150 ms, at the third.
      expect(seen).toEqual(['a:ooo', 'b:ooo', 'c:xoo', 'd:xox']);
    });
  });
});
