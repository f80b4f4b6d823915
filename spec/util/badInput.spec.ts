/*
 * Bad input from plain JavaScript, at every public entry outside limit/ and overload/ (their
 * own specs cover those): each row is a call, the error it must throw at call time, and a
 * fragment of the message that names the function, the option and the value. Then one valid
 * call per entry, so that the checks refuse nothing they should take.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { of, queueScheduler } from 'rxjs';
import { failed, fakeSocket, FakeListener } from '../marbles';
import { agentCheck, agentReply, drain, healthCheck, LoopStatus, type LoopState } from '../../src/balancer';
import { backpressure, fromServer, handleErrors, handTo, silenceTimeout, isAccepted, Limiter, listen, ListenError, logWarnings, serve, serviceUnavailable, tokenOf } from '../../src';
import { classifyAcceptError, classifyFailure, errorHint, readOpenFileLimit } from '../../src/errors';
import { Metrics, toPrometheus } from '../../src/metrics';
import { pauseUnderPressure } from '../../src/overload';
import { proxyHeaderOf, proxyPeerOf, proxyProtocol } from '../../src/proxy';
import { checkKnownOptions } from '../../src/util/validate';

/** Plain JavaScript: no types to stop anything. */
const js = <F extends (...args: never[]) => unknown>(f: F) => f as unknown as (...args: unknown[]) => ReturnType<F>;

const limiter = new Limiter(10);
const metrics = new Metrics(limiter);
const status = new LoopStatus(metrics, limiter);
const stats = metrics.snapshot();
const log = (): void => undefined;
const handler = (): void => undefined;
const emfile = Object.assign(new Error('too many'), { code: 'EMFILE' });
const listener = new FakeListener(() => 0);
const SCHEDULER = 'must be a scheduler (with now() and schedule())';

type Row = [call: string, run: () => unknown, type: typeof TypeError | typeof RangeError, message: string];

const rows: Row[] = [
  // handleErrors
  [`handleErrors('500')`, () => js(handleErrors)('500'), TypeError, 'handleErrors: options must be an object or a number of ms, got "500"'],
  ['handleErrors(null)', () => js(handleErrors)(null), TypeError, 'handleErrors: options must be an object or a number of ms, got null'],
  ['handleErrors([500])', () => js(handleErrors)([500]), TypeError, 'handleErrors: options must be an object or a number of ms, got an array'],
  ['handleErrors({ dealy })', () => js(handleErrors)({ dealy: 100 }), TypeError, 'handleErrors: options has no "dealy"; did you mean "delay"? Known: delay, maxDelay, scheduler'],
  [`handleErrors({ delay: '100' })`, () => js(handleErrors)({ delay: '100' }), TypeError, 'handleErrors: delay must be a number of milliseconds, got "100"'],
  [`handleErrors({ scheduler: 'async' })`, () => js(handleErrors)({ scheduler: 'async' }), TypeError, `handleErrors: options.scheduler ${SCHEDULER}, got "async"`],
  // logWarnings
  ['logWarnings(log, null)', () => js(logWarnings)(log, null), TypeError, 'logWarnings: options must be an object, got null'],
  ['logWarnings(log, { windw })', () => js(logWarnings)(log, { windw: 100 }), TypeError, 'logWarnings: options has no "windw"; did you mean "window"? Known: window, scheduler'],
  [`logWarnings(log, { window: '1s' })`, () => js(logWarnings)(log, { window: '1s' }), TypeError, 'logWarnings: options.window must be a number of milliseconds, got "1s"'],
  ['logWarnings(log, { scheduler: 5 })', () => js(logWarnings)(log, { scheduler: 5 }), TypeError, `logWarnings: options.scheduler ${SCHEDULER}, got 5`],
  // backpressure
  [`backpressure('100')`, () => js(backpressure)('100'), TypeError, 'backpressure: limit must be a number or a Limiter, got "100"'],
  ['backpressure(0)', () => js(backpressure)(0), RangeError, 'backpressure: limit must be an integer >= 1, got 0'],
  ['backpressure(10, null)', () => js(backpressure)(10, null), TypeError, 'backpressure: options must be an object, got null'],
  ['backpressure(10, { queueSzie })', () => js(backpressure)(10, { queueSzie: 3 }), TypeError, 'Limiter: options has no "queueSzie"; did you mean "queueSize"?'],
  // serve
  ['serve(handler, null)', () => js(serve)(handler, null), TypeError, 'serve: options must be an object, got null'],
  ['serve(handler, { graceMS })', () => js(serve)(handler, { graceMS: 10 }), TypeError, 'serve: options has no "graceMS"; did you mean "graceMs"? Known: onError, signal, graceMs, scheduler'],
  [`serve(handler, { signal: 'stop' })`, () => js(serve)(handler, { signal: 'stop' }), TypeError, 'serve: options.signal must be an AbortSignal, got "stop"'],
  ['serve(handler, { onError: null })', () => js(serve)(handler, { onError: null }), TypeError, 'serve: options.onError must be a function, got null'],
  // silenceTimeout
  [`silenceTimeout('30s')`, () => js(silenceTimeout)('30s'), TypeError, 'silenceTimeout: ms must be a number, got "30s"'],
  ['silenceTimeout(1000, {})', () => js(silenceTimeout)(1000, {}), TypeError, `silenceTimeout: scheduler ${SCHEDULER}, got [object Object]`],
  // pauseUnderPressure
  ['pauseUnderPressure([], null)', () => js(pauseUnderPressure)([], null), TypeError, 'pauseUnderPressure: options must be an object, got null'],
  ['pauseUnderPressure([], { minPase })', () => js(pauseUnderPressure)([], { minPase: 1 }), TypeError, 'pauseUnderPressure: options has no "minPase"; did you mean "minPause"?'],
  ['pauseUnderPressure([null])', () => js(pauseUnderPressure)([null]), TypeError, 'pauseUnderPressure: pressures[0] must be an object, got null'],
  [
    'pauseUnderPressure([{ threshold }])',
    () => js(pauseUnderPressure)([{ name: 'lag', samples: of(1), above: 1, threshold: 2 }]),
    TypeError,
    'pauseUnderPressure: pressures[0] has no "threshold". Known: name, samples, above, below, unit',
  ],
  ['pauseUnderPressure([{ unit: 5 }])', () => js(pauseUnderPressure)([{ name: 'lag', samples: of(1), above: 1, unit: 5 }]), TypeError, 'pauseUnderPressure: pressures[0].unit must be a string, got 5'],
  // proxyProtocol
  ['proxyProtocol(null)', () => js(proxyProtocol)(null), TypeError, 'proxyProtocol: options must be an object, got null'],
  [
    'proxyProtocol({ headerTimout })',
    () => js(proxyProtocol)({ trusted: '10.0.0.0/8', headerTimout: 5 }),
    TypeError,
    'proxyProtocol: options has no "headerTimout"; did you mean "headerTimeout"?',
  ],
  [`proxyProtocol({ untrusted: 'allow' })`, () => js(proxyProtocol)({ trusted: '127.0.0.1', untrusted: 'allow' }), TypeError, 'proxyProtocol: options.untrusted must be one of "refuse", "direct", got "allow"'],
  [`proxyProtocol({ onRefused: 'log' })`, () => js(proxyProtocol)({ trusted: '127.0.0.1', onRefused: 'log' }), TypeError, 'proxyProtocol: options.onRefused must be a function, got "log"'],
  // serviceUnavailable
  ['serviceUnavailable(null)', () => js(serviceUnavailable)(null), TypeError, 'serviceUnavailable: options must be an object, got null'],
  // Too far from any known name for a guess: no suggestion.
  ['serviceUnavailable({ retryAfterSeconds })', () => js(serviceUnavailable)({ retryAfterSeconds: 2 }), TypeError, 'serviceUnavailable: options has no "retryAfterSeconds". Known: retryAfter, lingerMs, scheduler'],
  [`serviceUnavailable({ lingerMs: '1000' })`, () => js(serviceUnavailable)({ lingerMs: '1000' }), TypeError, 'serviceUnavailable: options.lingerMs must be a number, got "1000"'],
  // handTo, tokenOf, proxyHeaderOf, proxyPeerOf
  ['handTo(null)', () => js(handTo)(null), TypeError, 'handTo: server must be a net.Server, got null'],
  [`tokenOf('socket')`, () => js(tokenOf)('socket'), TypeError, 'tokenOf: socket must be a socket, got "socket"'],
  ['proxyHeaderOf(42)', () => js(proxyHeaderOf)(42), TypeError, 'proxyHeaderOf: socket must be a socket, got 42'],
  ['proxyPeerOf(undefined)', () => js(proxyPeerOf)(undefined), TypeError, 'proxyPeerOf: socket must be a socket, got undefined'],
  // listen, fromServer, readOpenFileLimit
  ['listen(null)', () => js(listen)(null), TypeError, 'listen: options must be an object with a port or a path, got null'],
  [`listen('8080')`, () => js(listen)('8080'), TypeError, 'listen: options must be an object with a port or a path, got "8080"'],
  ['listen({ backLog })', () => js(listen)({ port: 0, backLog: 10 }), TypeError, 'listen: options has no "backLog"; did you mean "backlog"?'],
  ['listen({ host: 5 })', () => js(listen)({ port: 0, host: 5 }), TypeError, 'listen: options.host must be a non-empty string, got 5'],
  [`listen({ server: 'net' })`, () => js(listen)({ port: 0, server: 'net' }), TypeError, 'listen: options.server must be an object, got "net"'],
  ['listen({ scheduler: 5 })', () => js(listen)({ port: 0, scheduler: 5 }), TypeError, `listen: options.scheduler ${SCHEDULER}, got 5`],
  ['fromServer(server, null)', () => js(fromServer)(createServer(), null), TypeError, 'fromServer: options must be an object, got null'],
  ['fromServer(server, { port })', () => js(fromServer)(createServer(), { port: 80 }), TypeError, 'fromServer: options has no "port". Known: headroom,'],
  ['readOpenFileLimit(42)', () => js(readOpenFileLimit)(42), TypeError, 'readOpenFileLimit: limits must be a string (the text of /proc/self/limits), got 42'],
  // Metrics, toPrometheus
  ['new Metrics(null)', () => new (Metrics as new (limiter: unknown) => Metrics)(null), TypeError, 'Metrics: limiter must be a Limiter, got null'],
  ['new Metrics({ limit })', () => new (Metrics as new (limiter: unknown) => Metrics)({ limit: 10 }), TypeError, 'Metrics: limiter must be a Limiter, got [object Object]'],
  [`metrics.every(1000, 'async')`, () => js(metrics.every.bind(metrics))(1000, 'async'), TypeError, `Metrics.every: scheduler ${SCHEDULER}, got "async"`],
  [`toPrometheus(stats, 'my-app ')`, () => toPrometheus(stats, 'my-app '), RangeError, 'toPrometheus: prefix must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got "my-app "'],
  [`toPrometheus(stats, '1app_')`, () => toPrometheus(stats, '1app_'), RangeError, 'toPrometheus: prefix must be a Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got "1app_"'],
  ['toPrometheus(stats, 5)', () => js(toPrometheus)(stats, 5), TypeError, 'toPrometheus: prefix must be a string, got 5'],
  ['toPrometheus(metrics)', () => js(toPrometheus)(metrics), TypeError, 'toPrometheus: stats must be a snapshot (metrics.snapshot()), got [object Object]'],
  ['toPrometheus(null)', () => js(toPrometheus)(null), TypeError, 'toPrometheus: stats must be a snapshot (metrics.snapshot()), got null'],
  // LoopStatus
  ['new LoopStatus(null)', () => new (LoopStatus as new (...args: unknown[]) => LoopStatus)(null), TypeError, 'LoopStatus: metrics must be a Metrics, got null'],
  ['new LoopStatus(metrics, {})', () => new (LoopStatus as new (...args: unknown[]) => LoopStatus)(metrics, {}), TypeError, 'LoopStatus: limiter must be a Limiter, got [object Object]'],
  [`status.changes('100')`, () => js(status.changes.bind(status))('100'), TypeError, 'LoopStatus.changes: ms must be a number, got "100"'],
  ['status.changes(100, null)', () => js(status.changes.bind(status))(100, null), TypeError, `LoopStatus.changes: scheduler ${SCHEDULER}, got null`],
  // drain
  ['drain(status, null)', () => js(drain)(status, null), TypeError, 'drain: options must be an object, got null'],
  ['drain(status)', () => js(drain)(status), TypeError, 'drain: options must be an object, got undefined'],
  ['drain(status, {})', () => js(drain)(status, {}), TypeError, 'drain: options.maxMs must be a number of milliseconds, got undefined'],
  ['drain(status, { quiteMs })', () => js(drain)(status, { maxMs: 5000, quiteMs: 100 }), TypeError, 'drain: options has no "quiteMs"; did you mean "quietMs"? Known: maxMs, quietMs, scheduler'],
  ['drain(metrics, { maxMs })', () => js(drain)(metrics, { maxMs: 0 }), TypeError, 'drain: status must be a LoopStatus, got [object Object]'],
  // healthCheck
  ['healthCheck(undefined)', () => js(healthCheck)(undefined), TypeError, 'healthCheck: status must be a LoopStatus, got undefined'],
  ['healthCheck(status, null)', () => js(healthCheck)(status, null), TypeError, 'healthCheck: options must be an object, got null'],
  ['healthCheck(status, { readyWhilePause })', () => js(healthCheck)(status, { readyWhilePause: false }), TypeError, 'healthCheck: options has no "readyWhilePause"; did you mean "readyWhilePaused"?'],
  // agentCheck, agentReply
  ['agentCheck(null)', () => js(agentCheck)(null), TypeError, 'agentCheck: status must be a LoopStatus, got null'],
  ['agentCheck(status, { fullWeight })', () => js(agentCheck)(status, { fullWeight: 1000 }), TypeError, 'agentCheck: options has no "fullWeight"; did you mean "fullWeightAt"?'],
  [`agentCheck(status, { fullWeightAt: '1000' })`, () => js(agentCheck)(status, { fullWeightAt: '1000' }), TypeError, 'agentCheck: options.fullWeightAt must be a number > 0, got "1000"'],
  ['agentReply(null)', () => js(agentReply)(null), TypeError, 'agentReply: state must be an object, got null'],
  [`agentReply({ phase: 'up' })`, () => js(agentReply)({ phase: 'up' }), TypeError, 'agentReply: state.phase must be one of "accepting", "paused", "draining", "stopped", got "up"'],
  ['agentReply(state, { fullWeightAt: 0 })', () => agentReply(status.state, { fullWeightAt: 0 }), RangeError, 'agentReply: options.fullWeightAt must be a number > 0, got 0'],
  // errors
  ['isAccepted(null)', () => js(isAccepted)(null), TypeError, 'isAccepted: result must be an accept result, got null'],
  ['classifyAcceptError(null)', () => js(classifyAcceptError)(null), TypeError, 'classifyAcceptError: error must be an error, got null'],
  ['classifyFailure(undefined)', () => js(classifyFailure)(undefined), TypeError, "classifyFailure: failure must be an accept result's error, got undefined"],
  [
    `classifyFailure({ error: 'EMFILE' })`,
    () => js(classifyFailure)({ type: 'error', during: 'accept', listener, error: 'EMFILE' }),
    TypeError,
    'classifyFailure: failure.error must be an error, got "EMFILE"',
  ],
  [`errorHint('EMFILE')`, () => js(errorHint)('EMFILE'), TypeError, 'errorHint: error must be an error, got "EMFILE"'],
  [`errorHint(error, 'later')`, () => js(errorHint)(emfile, 'later'), TypeError, 'errorHint: during must be one of "start", "accept", "resume", got "later"'],
  ['new ListenError(null)', () => new (ListenError as new (...args: unknown[]) => ListenError)(null), TypeError, 'ListenError: cause must be an error, got null'],
  [`new ListenError(error, 'accept')`, () => new (ListenError as new (...args: unknown[]) => ListenError)(emfile, 'accept'), TypeError, 'ListenError: during must be one of "start", "resume", got "accept"'],
];

describe('bad input at every public entry', () => {
  it.each(rows)('%s throws, naming the function, the option and the value', (_call, run, type, message) => {
    let thrown: unknown;
    try {
      run();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(type);
    expect((thrown as Error).message).toContain(message);
  });
});

describe('valid input at every public entry', () => {
  const state: LoopState = status.state;
  it.each<[string, () => unknown]>([
    ['handleErrors()', () => handleErrors()],
    ['handleErrors(250)', () => handleErrors(250)],
    ['handleErrors({ delay, maxDelay, scheduler })', () => handleErrors({ delay: 5, maxDelay: 1000, scheduler: queueScheduler })],
    ['handleErrors({ delay: undefined })', () => handleErrors({ delay: undefined })],
    ['logWarnings(log, { window })', () => logWarnings(log, { window: 100 })],
    ['backpressure(10, { queueSize })', () => backpressure(10, { queueSize: 5 })],
    ['backpressure(limiter)', () => backpressure(limiter)],
    ['serve(handler, { signal, graceMs })', () => serve(handler, { signal: new AbortController().signal, graceMs: 100 })],
    ['silenceTimeout(1000, queueScheduler)', () => silenceTimeout(1000, queueScheduler)],
    ['pauseUnderPressure([...], { minPause, shedHeaviest })', () => pauseUnderPressure([{ name: 'lag', samples: of(1), above: 10, below: 5, unit: 'ms' }], { minPause: 100, shedHeaviest: limiter })],
    ['proxyProtocol({ trusted, untrusted })', () => proxyProtocol({ trusted: ['10.0.0.0/8'], untrusted: 'direct', headerTimeout: 100 })],
    ['serviceUnavailable({ retryAfter })', () => serviceUnavailable({ retryAfter: 2 })],
    ['handTo(http server)', () => handTo(createHttpServer())],
    ['tokenOf(socket), tokenOf(null)', () => [tokenOf(fakeSocket()), tokenOf(null)]],
    ['proxyHeaderOf(socket), proxyPeerOf(socket)', () => [proxyHeaderOf(fakeSocket()), proxyPeerOf(fakeSocket())]],
    ['listen({ port, backlog, server })', () => listen({ port: 0, backlog: 16, server: { allowHalfOpen: true } })],
    ['listen({ path })', () => listen({ path: '/tmp/rxjs-listen-bad-input.sock' })],
    ['fromServer(server, { backlog, reusePort })', () => fromServer(createServer(), { backlog: 16, reusePort: false })],
    ['readOpenFileLimit(text)', () => readOpenFileLimit('Max open files            1024                 1024                 files\n')],
    ['new Metrics(), new Metrics(limiter).every(1000)', () => [new Metrics(), new Metrics(limiter).every(1000)]],
    [`toPrometheus(stats, 'app:')`, () => toPrometheus(stats, 'app:')],
    [`toPrometheus(stats, '')`, () => toPrometheus(stats, '')],
    ['new LoopStatus(metrics), status.changes(50)', () => [new LoopStatus(metrics), status.changes(50)]],
    ['drain(status, { maxMs, quietMs })', () => drain(status, { maxMs: 1000, quietMs: 100 })],
    ['healthCheck(status, { readyWhilePaused })', () => healthCheck(status, { readyWhilePaused: false })],
    ['agentCheck(status, { fullWeightAt })', () => agentCheck(status, { fullWeightAt: 1000 })],
    ['agentReply(state)', () => agentReply(state)],
    ['isAccepted, classifyFailure', () => [isAccepted(failed(listener, 'EMFILE')), classifyFailure(failed(listener, 'EMFILE'))]],
    ['classifyAcceptError, errorHint, ListenError', () => [classifyAcceptError(emfile), errorHint(emfile, 'resume'), new ListenError(emfile, 'resume')]],
  ])('%s is taken', (_call, run) => {
    expect(run).not.toThrow();
  });

  it('writes a prefix given as it is, and the default one', () => {
    expect(toPrometheus(stats, 'app:')).toMatch(/^app:accepted_total 0$/m);
    expect(toPrometheus(stats)).toMatch(/^rxjs_listen_accepted_total 0$/m);
  });

  it('reads the delay given as a number', () => {
    expect(() => handleErrors(-1)).toThrow('handleErrors: delay must be a finite number of milliseconds >= 0, got -1');
  });
});

describe('checkKnownOptions', () => {
  const known = ['queueSize', 'queueTimeout', 'perPeer', 'scheduler'];
  it.each([
    ['a swapped pair', 'queueSzie', 'queueSize'],
    ['a letter missing', 'queueTimout', 'queueTimeout'],
    ['a letter too many', 'perrPeer', 'perPeer'],
    ['another case', 'QueueSize', 'queueSize'],
    ['a wrong letter', 'schedulor', 'scheduler'],
  ])('names the nearest known name for %s', (_what, key, near) => {
    expect(() => checkKnownOptions('Limiter: options', { [key]: 1 }, known)).toThrow(
      new TypeError(`Limiter: options has no "${key}"; did you mean "${near}"? Known: queueSize, queueTimeout, perPeer, scheduler`),
    );
  });

  it.each(['maxQueue', 'peer', 'x', 'timeout'])('guesses nothing for %p, too far from every name', (key) => {
    expect(() => checkKnownOptions('Limiter: options', { [key]: 1 }, known)).toThrow(
      new TypeError(`Limiter: options has no "${key}". Known: queueSize, queueTimeout, perPeer, scheduler`),
    );
  });

  it('takes known keys, also set to undefined, and keeps the message for what is not an object', () => {
    expect(checkKnownOptions('f: options', { perPeer: undefined }, known)).toEqual({ perPeer: undefined });
    expect(() => checkKnownOptions('f: options', 5, known)).toThrow(new TypeError('f: options must be an object, got 5'));
  });
});
