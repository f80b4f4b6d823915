/* Flushing the accept queue before a pause closes the listening socket: turns are ended by hand
 * (the afterTurn the flush is given), so which turn took a connection is exact. */
import type { Socket } from 'node:net';
import { QueueFlush } from '../../src/source/queueFlush';
import { fakeSocket } from '../marbles';

/** A flush whose turn checks run only when `turn()` says the loop reached its check phase. */
function flush(
  refuse: (socket: Socket) => void = () => undefined,
  keep?: { count: () => number; passed: [readonly Socket[], boolean][] },
  onClose: () => void = () => undefined,
  atOnce = 0,
) {
  const checks: (() => void)[] = [];
  let closes = 0;
  const refused: Socket[] = [];
  const queue = new QueueFlush(
    (socket) => {
      refused.push(socket);
      refuse(socket);
    },
    () => {
      closes++;
      onClose();
    },
    (check) => void checks.push(check),
    keep === undefined ? undefined : { count: keep.count, pass: (sockets, closed) => void keep.passed.push([sockets, closed]) },
    atOnce,
  );
  /** Ends the turn: runs the checks scheduled so far (not the ones they schedule). */
  const turn = (): void => checks.splice(0).forEach((check) => check());
  return { queue, checks, turn, refused, closes: () => closes };
}

describe('QueueFlush', () => {
  it('is idle until started: not flushing, nothing refused, no check scheduled', () => {
    const d = flush();
    expect([d.queue.flushing, d.queue.refused, d.checks.length, d.closes()]).toEqual([false, 0, 0, 0]);
  });

  it('judges from the next whole turn: the turn under way at start() never closes, even without a take()', () => {
    const d = flush();
    d.queue.start();
    expect(d.queue.flushing).toBe(true);
    expect(d.checks).toHaveLength(1);
    d.turn(); // the turn start() was called in: it may have polled before it
    expect([d.closes(), d.queue.flushing, d.checks.length]).toEqual([0, true, 1]);
  });

  it('keeps flushing, and does not close, while every turn takes a connection', () => {
    const d = flush();
    d.queue.start();
    d.turn();
    for (let i = 0; i < 5; i++) {
      d.queue.take(fakeSocket());
      d.turn();
      expect([d.closes(), d.queue.flushing, d.checks.length]).toEqual([0, true, 1]);
    }
    expect(d.queue.refused).toBe(5);
  });

  it('closes exactly once, at the first whole turn that took none, and stops flushing', () => {
    const d = flush();
    d.queue.start();
    d.turn();
    d.queue.take(fakeSocket());
    d.turn();
    expect(d.closes()).toBe(0);
    d.turn(); // took none
    expect([d.closes(), d.queue.flushing, d.checks.length]).toEqual([1, false, 0]);
    d.turn();
    d.turn();
    expect(d.closes()).toBe(1); // nothing left scheduled: never a second close
  });

  it('never closes when cancel() comes before the turn ends (the pause was released first)', () => {
    const d = flush();
    d.queue.start();
    d.turn();
    d.queue.cancel();
    expect(d.queue.flushing).toBe(false);
    d.turn(); // the empty turn that would have closed
    d.turn();
    expect([d.closes(), d.checks.length]).toEqual([0, 0]);
  });

  it('counts each take() in refused, and hands the sockets to refuse, oldest first, only once the socket is closed', () => {
    const events: string[] = [];
    const d = flush((socket) => void events.push(`refuse ${sockets.indexOf(socket)}`), undefined, () => void events.push('close'));
    d.queue.start();
    const sockets = [fakeSocket(), fakeSocket(), fakeSocket()];
    for (const socket of sockets) d.queue.take(socket);
    expect([d.queue.refused, d.refused.length]).toEqual([3, 0]); // counted, not answered: a client answered now would queue again
    d.turn();
    d.turn(); // took none: closed, then answered
    expect(events).toEqual(['close', 'refuse 0', 'refuse 1', 'refuse 2']);
    expect(sockets.some((s) => s.destroyed)).toBe(false); // refuse decides how it ends, not the flush
  });

  it('answers the connections taken when cancelled (the listener stays open) or abandoned, never closing', () => {
    for (const end of ['cancel', 'abandon'] as const) {
      const d = flush();
      const socket = fakeSocket();
      d.queue.start();
      d.queue.take(socket);
      d.queue[end]();
      d.turn();
      d.turn();
      expect([end, d.refused, d.closes(), d.queue.flushing]).toEqual([end, [socket], 0, false]);
    }
  });

  it('destroys the socket of a refuse that throws, and refuses the next ones as usual', () => {
    let calls = 0;
    const d = flush(() => {
      if (++calls === 1) throw new Error('refuse failed');
    });
    d.queue.start();
    const [thrown, next] = [fakeSocket(), fakeSocket()];
    d.queue.take(thrown);
    d.turn();
    expect(d.queue.flushing).toBe(true);
    d.queue.take(next);
    d.turn();
    expect(() => d.turn()).not.toThrow();
    expect([d.closes(), thrown.destroyed, next.destroyed, d.queue.refused, calls]).toEqual([1, true, false, 2, 2]);
  });

  it('flushes once when started twice: one check scheduled, one close', () => {
    const d = flush();
    d.queue.start();
    d.queue.start();
    expect(d.checks).toHaveLength(1);
    d.turn();
    d.queue.start(); // again mid-flush: no second chain of checks
    expect(d.checks).toHaveLength(1);
    d.turn();
    expect(d.closes()).toBe(1);
    expect(d.checks).toHaveLength(0);
  });

  // A pause released and taken again within one turn: one chain of checks, so the turn under
  // way (which may not have polled yet) is not judged twice and taken for an empty queue.
  it('judges a whole turn again after cancel() and start() with a check still pending', () => {
    const d = flush();
    d.queue.start();
    d.queue.cancel();
    d.queue.start();
    expect(d.checks).toHaveLength(1);
    d.turn(); // the turn under way at the second start()
    expect([d.closes(), d.queue.flushing]).toEqual([0, true]);
    d.turn();
    expect(d.closes()).toBe(1);
  });

  it('can flush again after a close: a new start() begins a new flush that closes again', () => {
    const d = flush();
    d.queue.start();
    d.turn();
    d.turn();
    expect(d.closes()).toBe(1);
    d.queue.start();
    expect([d.queue.flushing, d.checks.length]).toEqual([true, 1]);
    d.turn();
    d.turn();
    expect(d.closes()).toBe(2);
  });

  it('answers the first atOnce connections refused as it takes them (they waited longest), the rest once closed; again in the next flush', () => {
    const events: string[] = [];
    const sockets = [fakeSocket(), fakeSocket(), fakeSocket()];
    const d = flush((socket) => void events.push(`refuse ${sockets.indexOf(socket)}`), undefined, () => void events.push('close'), 2);
    d.queue.start();
    sockets.forEach((socket) => d.queue.take(socket));
    expect(events).toEqual(['refuse 0', 'refuse 1']);
    d.turn();
    d.turn();
    expect(events).toEqual(['refuse 0', 'refuse 1', 'close', 'refuse 2']);
    expect(d.queue.refused).toBe(3);
    d.queue.start();
    d.queue.take(sockets[0]!);
    expect(events.at(-1)).toBe('refuse 0');
  });

  it("counts every flush's refusals in the process (refusedInProcess), kept ones not", () => {
    const before = QueueFlush.refusedInProcess;
    const [a, b] = [flush(), flush(undefined, { count: () => 1, passed: [] })];
    a.queue.start();
    b.queue.start();
    a.queue.take(fakeSocket());
    b.queue.take(fakeSocket()); // kept
    b.queue.take(fakeSocket()); // the first kept is pushed out: refused
    expect(QueueFlush.refusedInProcess - before).toBe(2);
  });

  describe('with keep', () => {
    it('keeps the newest count() connections, refusing the older ones, and hands them on after the close', () => {
      const passed: [readonly Socket[], boolean][] = [];
      let reads = 0;
      const d = flush(undefined, { count: () => (reads++, 2), passed });
      const sockets = [fakeSocket(), fakeSocket(), fakeSocket(), fakeSocket()];
      d.queue.start();
      sockets.forEach((socket) => d.queue.take(socket));
      expect([d.refused, d.queue.refused, passed.length]).toEqual([[], 2, 0]); // the two oldest to be refused, nothing answered or handed on yet
      d.turn(); // the turn of start(): it took connections
      d.turn(); // none taken: empty, closed
      expect([d.closes(), d.refused, passed]).toEqual([1, sockets.slice(0, 2), [[sockets.slice(2), true]]]);
      expect(reads).toBe(1); // read once, as the flush began
    });

    it('hands the kept connections on, not closed, when the flush is cancelled', () => {
      const passed: [readonly Socket[], boolean][] = [];
      const d = flush(undefined, { count: () => 5, passed });
      const socket = fakeSocket();
      d.queue.start();
      d.queue.take(socket);
      d.queue.cancel();
      d.turn();
      expect([d.closes(), d.queue.refused, passed]).toEqual([0, 0, [[[socket], false]]]);
    });

    it('destroys the kept connections and never closes when abandoned (the listener unsubscribed)', () => {
      const passed: [readonly Socket[], boolean][] = [];
      const d = flush(undefined, { count: () => 5, passed });
      const socket = fakeSocket();
      d.queue.start();
      d.queue.take(socket);
      d.queue.abandon();
      d.turn();
      d.turn();
      expect([socket.destroyed, d.closes(), passed.length, d.queue.flushing]).toEqual([true, 0, 0, false]);
    });

    it('keeps none with a count of 0: every connection refused', () => {
      const passed: [readonly Socket[], boolean][] = [];
      const d = flush(undefined, { count: () => 0, passed });
      d.queue.start();
      d.queue.take(fakeSocket());
      d.turn();
      d.turn();
      expect([d.closes(), d.queue.refused, passed.length]).toEqual([1, 1, 0]);
    });
  });
});
