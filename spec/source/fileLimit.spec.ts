import { openSync, closeSync } from 'node:fs';
import { take } from 'rxjs';
import { defaultHeadroom, fileShortage, openFileCount, openFilesEvery, readOpenFileLimit, warnIfLimitExceedsFiles } from '../../src/source/fileLimit';
import { testScheduler } from '../marbles';

const limits = (soft: string, hard: string) =>
  `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             95434                95434                processes \nMax open files            ${soft.padEnd(21)}${hard.padEnd(21)}files     \n`;

describe('the open-file limit', () => {
  it('reads the soft limit from /proc/self/limits text', () => {
    expect(readOpenFileLimit(limits('100', '4096'))).toBe(100);
    expect(readOpenFileLimit(limits('unlimited', 'unlimited'))).toBeUndefined();
    expect(readOpenFileLimit('')).toBeUndefined();
  });

  it('reads this process: a number on Linux', () => {
    if (process.platform !== 'linux') return;
    expect(readOpenFileLimit()).toBeGreaterThan(0);
  });

  it('counts open descriptors, following opens and closes', () => {
    if (process.platform !== 'linux') return;
    const before = openFileCount();
    const fds = [openSync(__filename, 'r'), openSync(__filename, 'r')];
    expect(openFileCount()).toBe(before + 2);
    fds.forEach(closeSync);
    expect(openFileCount()).toBe(before);
  });

  it('counts every minimum period, and less often as the count grows past its share of a core', () => {
    if (process.platform !== 'linux') return;
    const scheduler = testScheduler();
    scheduler.run(({ flush }) => {
      const at: number[] = [];
      openFilesEvery(25, 0.01, scheduler).pipe(take(3)).subscribe(() => at.push(scheduler.now()));
      const slow: number[] = [];
      let open = 0;
      openFilesEvery(25, 1e-6, scheduler)
        .pipe(take(2))
        .subscribe((count) => {
          open = count;
          slow.push(scheduler.now());
        });
      flush();
      expect(at).toEqual([25, 50, 75]); // a few dozen descriptors cost far less than 1% at 25 ms
      expect(slow[0]).toBe(25);
      // At a millionth of a core even the cheapest count (5 µs by stat) waits 5 s; listing
      // the directory (before Linux 6.2) costs ~1 µs per descriptor: ~1 s per descriptor.
      expect(slow[1]! - slow[0]!).toBeGreaterThanOrEqual(Math.min(5000, open * 1000 - 1000));
    });
  });

  it('counts less often while the count stands still, up to the steady period, and at once more often when it moves', () => {
    if (process.platform !== 'linux') return;
    const scheduler = testScheduler();
    const opened: number[] = [];
    try {
      scheduler.run(({ flush }) => {
        const at: number[] = [];
        const counts: number[] = [];
        openFilesEvery(25, 0.01, scheduler, 100)
          .pipe(take(7))
          .subscribe((open) => {
            at.push(scheduler.now());
            counts.push(open);
          });
        scheduler.schedule(() => opened.push(openSync(__filename, 'r')), 290); // a descriptor opens at 290 ms
        flush();
        // 25 (first count), 50 (same: the period doubles), 100, 200 (capped at 100), 300 (one
        // more: back to 25), 325 (same again: 50), 375
        expect(at).toEqual([25, 50, 100, 200, 300, 325, 375]);
        expect(counts[4]).toBe(counts[0]! + 1);
      });
    } finally {
      opened.forEach(closeSync);
    }
  });

  it('keeps 5% of the limit free, at least 16', () => {
    expect(defaultHeadroom(100)).toBe(16);
    expect(defaultHeadroom(65536)).toBe(3277);
  });

  it('describes a hidden shortage as the EMFILE Node would have reported', () => {
    const error = fileShortage(85, 100, 'accept');
    expect(error).toMatchObject({ code: 'EMFILE', errno: -24, syscall: 'accept' });
    expect(error.message).toBe('EMFILE: too many open files, accept (85 of 100 descriptors open; paused before Node drops connections silently)');
  });

  it('warns when a connection limit cannot fit in the open-file limit, and only then', () => {
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      expect(warnIfLimitExceedsFiles(200, 0, 100)).toBe(true);
      expect(spy).toHaveBeenCalledWith(expect.stringMatching(/^connection limit 200 cannot fit in the open-file limit 100/), { code: 'RXJS_LISTEN_FILE_LIMIT' });
      expect(warnIfLimitExceedsFiles(10, 0, 100_000)).toBe(false);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});
