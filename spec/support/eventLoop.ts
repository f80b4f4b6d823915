import { performance, type EventLoopUtilization } from 'node:perf_hooks';

const share = ({ idle, active }: { idle: number; active: number }): number => (idle + active === 0 ? 0 : active / (idle + active));

/**
 * Makes `performance.eventLoopUtilization` report the loop's time as `used` says (ms idle and
 * active since the start): called without both arguments, the totals now; with two, their
 * difference. What a spec needs to set the loop's busy share exactly, in virtual time or not.
 *
 * @returns The spy: `mockRestore()` it after the spec.
 */
export function fakeEventLoop(used: () => { idle: number; active: number }): jest.SpyInstance {
  return jest.spyOn(performance, 'eventLoopUtilization').mockImplementation(((a?: EventLoopUtilization, b?: EventLoopUtilization) => {
    const window = a === undefined || b === undefined ? used() : { idle: a.idle - b.idle, active: a.active - b.active };
    return { ...window, utilization: share(window) };
  }) as typeof performance.eventLoopUtilization);
}
