/* Option checks shared by every entry point: bad input fails at call time, with a message that names the option and shows the value. */
import type { SchedulerLike } from 'rxjs';

/** A value as a message shows it: strings quoted, so that `"500"` is told from `500`. */
export function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Throws unless `value` is an integer within `[min, max]`. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${name} must be a number, got ${show(value)}`);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new RangeError(`${name} must be an integer ${range}, got ${show(value)}`);
  }
  return value;
}

/** Throws unless `value` is a finite number of milliseconds, zero or more. */
export function checkDelay(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new TypeError(`${name} must be a number of milliseconds, got ${show(value)}`);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number of milliseconds >= 0, got ${show(value)}`);
  return value;
}

/** Throws unless `value` is a function. */
export function checkFunction<F>(name: string, value: F): F {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${show(value)}`);
  return value;
}

/** Throws unless `value` is `true` or `false`. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${show(value)}`);
  return value;
}

/** Throws unless `value` is a number within the inclusive `min`/`max` and exclusive `above`/`below`, finite unless a bound is that very infinity. */
export function checkNumber(name: string, value: unknown, bounds: { min?: number; above?: number; max?: number; below?: number }): number {
  const { min, above, max, below } = bounds;
  // One bound as a sign (`> 0`), two in words (`above 0 and at most 1`); an infinite bound only allows infinity, so it is left out.
  const lower = min !== undefined && min !== -Infinity ? ['>=', 'at least', min] : above !== undefined ? ['>', 'above', above] : undefined;
  const upper = max !== undefined && max !== Infinity ? ['<=', 'at most', max] : below !== undefined ? ['<', 'below', below] : undefined;
  const one = lower ?? upper;
  const range = lower !== undefined && upper !== undefined ? ` ${lower[1]} ${lower[2]} and ${upper[1]} ${upper[2]}` : one !== undefined ? ` ${one[0]} ${one[2]}` : '';
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number${range}, got ${show(value)}`);
  const allowed =
    (Number.isFinite(value) || value === min || value === max) && // NaN is never allowed
    (min === undefined || value >= min) &&
    (above === undefined || value > above) &&
    (max === undefined || value <= max) &&
    (below === undefined || value < below);
  if (!allowed) throw new RangeError(`${name} must be a number${range}, got ${show(value)}`);
  return value;
}

/** Throws unless `value` is an options bag (an object, not `null`, not an array); `expected` is what the message says it must be. */
export function checkOptions<T>(name: string, value: T, expected = 'an object'): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${name} must be ${expected}, got ${Array.isArray(value) ? 'an array' : show(value)}`);
  return value;
}

/** Throws unless `value` is an options bag whose every key is one of `known` (a misspelt option would be ignored), naming the nearest. */
export function checkKnownOptions<T>(name: string, value: T, known: readonly string[], expected?: string): T {
  checkOptions(name, value, expected);
  for (const key of Object.keys(value as object)) {
    if (known.includes(key)) continue;
    const near = nearest(key, known);
    const hint = near === undefined ? '.' : `; did you mean ${JSON.stringify(near)}?`;
    throw new TypeError(`${name} has no ${JSON.stringify(key)}${hint} Known: ${known.join(', ')}`);
  }
  return value;
}

/** The names of an options interface for {@link checkKnownOptions}: the compiler checks they are every key of `T` and no other. */
export function optionNames<T>(names: Record<keyof T, true>): readonly string[] {
  return Object.keys(names);
}

/** The known name closest to `key` (edit distance, case ignored), if at most a third of the longer name apart: a wrong guess misleads. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    const allowed = Math.max(1, Math.floor(Math.max(key.length, name.length) / 3));
    if (distance <= allowed && distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

/** Damerau-Levenshtein distance (optimal string alignment): a swap of two neighbours counts one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** Throws unless `value` is a scheduler (with `now()` and `schedule()`): anything else would fail only when the first timer is due. */
export function checkScheduler<S extends SchedulerLike>(name: string, value: S): S {
  const scheduler = value as Partial<SchedulerLike> | null | undefined;
  if (typeof scheduler?.now !== 'function' || typeof scheduler.schedule !== 'function') throw new TypeError(`${name} must be a scheduler (with now() and schedule()), got ${show(value)}`);
  return value;
}

/** Throws unless `value` is one of `allowed`. */
export function checkOneOf<const V>(name: string, value: unknown, allowed: readonly V[]): V {
  if (!allowed.includes(value as V)) throw new TypeError(`${name} must be one of ${allowed.map(show).join(', ')}, got ${show(value)}`);
  return value as V;
}

/** Throws unless `value` is an instance of `type`: a class whose private state the library reads, where a look-alike would fail later and far from the call. */
export function checkInstance<T>(name: string, value: unknown, type: abstract new (...args: never[]) => T): T {
  if (!(value instanceof type)) throw new TypeError(`${name} must be ${/^[AEIOU]/.test(type.name) ? 'an' : 'a'} ${type.name}, got ${show(value)}`);
  return value;
}

/** Throws unless `value` is a string with at least one character. */
export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string, got ${show(value)}`);
  return value;
}
