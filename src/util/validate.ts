/*
 * Option checks shared by every entry point: bad input fails at call time, with a message
 * that names the option and shows the value.
 */

export function show(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Throws unless `value` is an integer within `[min, max]`. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number, got ${show(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `between ${min} and ${max}`;
    throw new RangeError(`${name} must be an integer ${range}, got ${show(value)}`);
  }
  return value;
}

/** Throws unless `value` is a finite number of milliseconds, zero or more. */
export function checkDelay(name: string, value: unknown): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of milliseconds, got ${show(value)}`);
  }
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number of milliseconds >= 0, got ${show(value)}`);
  }
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

/** The range {@link checkNumber} allows: any of an inclusive `min`/`max` and an exclusive `above`/`below`. */
export interface NumberBounds {
  /** The least value allowed. */
  min?: number;
  /** Values must be greater than this. */
  above?: number;
  /** The greatest value allowed; `Infinity` allows `Infinity` itself. */
  max?: number;
  /** Values must be less than this. */
  below?: number;
}

/**
 * Throws unless `value` is a number within `bounds`.
 *
 * It must be finite, unless `min` or `max` is that very infinity (a default of `Infinity` that
 * means "never"); `NaN` never passes. A value that is not a number is a `TypeError`, one out of
 * range a `RangeError`.
 *
 * @example
 * checkNumber('targetLimit: options.weight', 1.5, { above: 0, max: 1 });
 * // RangeError: targetLimit: options.weight must be a number above 0 and at most 1, got 1.5
 *
 * @param name What to call it in the message: the function and the option.
 * @param value The value given.
 * @param bounds The range allowed.
 * @returns `value`, checked.
 */
export function checkNumber(name: string, value: unknown, bounds: NumberBounds): number {
  const { min, above, max, below } = bounds;
  // The range as a user reads it: one bound as a sign (`> 0`), two in words (`above 0 and at
  // most 1`); an infinite bound only says that infinity is allowed, so it is left out.
  const lower = min !== undefined && min !== -Infinity ? ['>=', 'at least', min] : above !== undefined ? ['>', 'above', above] : undefined;
  const upper = max !== undefined && max !== Infinity ? ['<=', 'at most', max] : below !== undefined ? ['<', 'below', below] : undefined;
  const range =
    lower !== undefined && upper !== undefined
      ? ` ${lower[1]} ${lower[2]} and ${upper[1]} ${upper[2]}`
      : lower !== undefined
        ? ` ${lower[0]} ${lower[2]}`
        : upper !== undefined
          ? ` ${upper[0]} ${upper[2]}`
          : '';
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

/**
 * Throws unless `value` is an object (not `null`, not an array): an options bag.
 *
 * @example
 * checkOptions('targetLimit: options', null); // TypeError: targetLimit: options must be an object, got null
 *
 * @param name What to call it in the message: the function and the parameter.
 * @param value The value given.
 * @returns `value`, checked.
 */
export function checkOptions<T>(name: string, value: T): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be an object, got ${Array.isArray(value) ? 'an array' : show(value)}`);
  }
  return value;
}

/**
 * Throws unless `value` is an options bag ({@link checkOptions}) whose every key is one of
 * `known`: a misspelt option would otherwise be ignored without a word.
 *
 * @example
 * checkKnownOptions('Limiter: options', { queueSzie: 3 }, ['queueSize']); // TypeError: Limiter: options.queueSzie is not an option (known: queueSize)
 *
 * @param name What to call it in the message: the function and the parameter.
 * @param value The value given.
 * @param known The option names.
 * @returns `value`, checked.
 */
export function checkKnownOptions<T>(name: string, value: T, known: readonly string[]): T {
  checkOptions(name, value);
  for (const key of Object.keys(value as object)) {
    if (!known.includes(key)) throw new TypeError(`${name}.${key} is not an option (known: ${known.join(', ')})`);
  }
  return value;
}

/**
 * Throws unless `value` is a string with at least one character.
 *
 * @example
 * checkString('cgroupMemory: options.root', ''); // TypeError: cgroupMemory: options.root must be a non-empty string, got ""
 *
 * @param name What to call it in the message: the function and the option.
 * @param value The value given.
 * @returns `value`, checked.
 */
export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw new TypeError(`${name} must be a non-empty string, got ${show(value)}`);
  return value;
}
