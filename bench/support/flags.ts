/*
 * The benchmarks' flags: one parser for every script, a thin typed layer over node:util
 * parseArgs. A script declares its flags (integer, number, string, boolean or a comma-separated
 * list, with bounds, choices and defaults) and gets their values typed; anything wrong exits 2
 * with one line, `<script>: --name must be ..., got "value"`.
 *
 * A flag that takes a value takes the next argument whatever it starts with, so that
 * `--demo-flags "--limit 20 --queue-size 0"` needs no `=` (parseArgs alone takes a value that
 * starts with a dash only as `--demo-flags=...`). `--name=value` works too. A flag given twice,
 * an unknown flag and a bare argument are errors.
 */
import { parseArgs } from 'node:util';

export type FlagSpec =
  | { kind: 'integer'; min?: number; max?: number; default?: number }
  | { kind: 'number'; min?: number; above?: number; max?: number; default?: number }
  | { kind: 'string'; choices?: readonly string[]; pattern?: RegExp; rule?: string; default?: string }
  | { kind: 'boolean' }
  /** Comma-separated: names from `choices`, or numbers (`of: 'number'`, each above `above`). `default` as it would be written. */
  | { kind: 'list'; choices?: readonly string[]; of?: 'number'; above?: number; default?: string };

export type FlagSpecs = Record<string, FlagSpec>;

type ValueOf<F> = F extends { kind: 'boolean' }
  ? boolean
  : F extends { kind: 'integer' | 'number' }
    ? F extends { default: number }
      ? number
      : number | undefined
    : F extends { kind: 'string' }
      ? (F extends { choices: readonly (infer C)[] } ? C : string) | (F extends { default: string } ? never : undefined)
      : F extends { kind: 'list'; of: 'number' }
        ? number[]
        : F extends { kind: 'list'; choices: readonly (infer C)[] }
          ? C[]
          : string[];

export type FlagValues<S extends FlagSpecs> = { readonly [K in keyof S]: ValueOf<S[K]> };

export interface Flags<S extends FlagSpecs> {
  readonly values: FlagValues<S>;
  /** Whether `name` was on the command line (a flag with a default has a value either way). */
  given(name: keyof S & string): boolean;
  /** `name`'s value; exits 2 when it was not given (flags a mode requires, e.g. a child's --port). */
  need<K extends keyof S & string>(name: K): NonNullable<FlagValues<S>[K]>;
  /** Exits 2 with `<script>: message`: for checks of more than one flag. */
  fail(message: string): never;
}

/** Prints `<script>: message` on stderr and exits 2. */
export function exitUsage(script: string, message: string): never {
  console.error(`${script}: ${message}`);
  return process.exit(2);
}

/** The words of a flag's value (`--demo-flags "--limit 20 --queue-size 0"`), split on white space, no quoting. */
export function words(text: string | undefined): string[] {
  return (text ?? '').split(/\s+/).filter((word) => word !== '');
}

/** "a", "a or b", "a, b or c". */
const alternatives = (names: readonly string[]): string => (names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`);

function range(spec: { min?: number; above?: number; max?: number }): string {
  const low = spec.above !== undefined ? ` above ${spec.above}` : spec.min !== undefined && spec.max === undefined ? ` >= ${spec.min}` : '';
  if (spec.max === undefined) return low;
  return spec.above !== undefined ? `${low} and <= ${spec.max}` : spec.min !== undefined ? ` from ${spec.min} to ${spec.max}` : ` <= ${spec.max}`;
}

/** What a valid value is, as in `--name must be <rule>`. */
function rule(spec: FlagSpec): string {
  switch (spec.kind) {
    case 'integer':
      return `an integer${range(spec)}`;
    case 'number':
      return `a number${range(spec)}`;
    case 'string':
      return spec.rule ?? (spec.choices ? alternatives(spec.choices) : 'a string');
    case 'boolean':
      return 'given without a value';
    case 'list':
      return spec.of === 'number' ? `a comma-separated list of numbers${range(spec)}` : `a comma-separated list of ${spec.choices?.join(', ') ?? 'names'}`;
  }
}

function inRange(value: number, spec: { min?: number; above?: number; max?: number }): boolean {
  return (spec.min === undefined || value >= spec.min) && (spec.above === undefined || value > spec.above) && (spec.max === undefined || value <= spec.max);
}

/** `text` as the flag's value, or undefined if it is not one. */
function convert(spec: FlagSpec, text: string): unknown {
  switch (spec.kind) {
    case 'integer':
    case 'number': {
      const value = Number(text);
      const whole = spec.kind === 'number' || Number.isSafeInteger(value);
      return text.trim() !== '' && Number.isFinite(value) && whole && inRange(value, spec) ? value : undefined;
    }
    case 'string':
      return (spec.choices === undefined || spec.choices.includes(text)) && (spec.pattern === undefined || spec.pattern.test(text)) ? text : undefined;
    case 'boolean':
      return undefined;
    case 'list': {
      const items = text.split(',').map((item) => item.trim());
      if (spec.of === 'number') {
        const numbers = items.map((item) => (item === '' ? NaN : Number(item)));
        return numbers.every((n) => Number.isFinite(n) && inRange(n, spec)) ? numbers : undefined;
      }
      return items.every((item) => (spec.choices ? spec.choices.includes(item) : item !== '')) ? items : undefined;
    }
  }
}

/**
 * Parses `args` (the script's own arguments by default) against `specs`, for the script named
 * `script` (the prefix of every message); exits 2 on the first thing wrong.
 */
export function parseFlags<const S extends FlagSpecs>(script: string, specs: S, args: string[] = process.argv.slice(2)): Flags<S> {
  const fail = (message: string): never => exitUsage(script, message);
  const names = Object.keys(specs);
  const known = names.length === 0 ? '(it takes no flags)' : `(flags: ${names.map((n) => `--${n}`).join(', ')})`;
  // Not strict: a flag that takes a value takes the next argument even when it starts with a
  // dash; what strict mode would refuse is refused below, one line each.
  const options = Object.fromEntries(names.map((name) => [name, { type: specs[name]!.kind === 'boolean' ? ('boolean' as const) : ('string' as const) }]));
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const given = new Map<string, string | undefined>();
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') fail(`unexpected argument ${JSON.stringify(token.value)} ${known}`);
    else {
      const spec = specs[token.name];
      if (spec === undefined || token.rawName !== `--${token.name}`) fail(`unknown flag ${JSON.stringify(token.rawName)} ${known}`);
      else if (given.has(token.name)) fail(`--${token.name} given twice, got ${JSON.stringify(given.get(token.name) ?? true)} and ${JSON.stringify(token.value ?? true)}`);
      else if (spec.kind === 'boolean' && token.value !== undefined) fail(`--${token.name} must be ${rule(spec)}, got ${JSON.stringify(token.value)}`);
      else if (spec.kind !== 'boolean' && token.value === undefined) fail(`--${token.name} must be ${rule(spec)}, got nothing`);
      given.set(token.name, token.value);
    }
  }
  const values: Record<string, unknown> = {};
  for (const name of names) {
    const spec = specs[name]!;
    const text = given.has(name) ? given.get(name) : 'default' in spec && spec.default !== undefined ? String(spec.default) : undefined;
    if (spec.kind === 'boolean') values[name] = given.has(name);
    else if (text === undefined) values[name] = spec.kind === 'list' ? [] : undefined;
    else {
      const value = convert(spec, text);
      if (value === undefined) fail(`--${name} must be ${rule(spec)}, got ${JSON.stringify(text)}`);
      values[name] = value;
    }
  }
  return {
    values: values as FlagValues<S>,
    given: (name) => given.has(name),
    need: (name) => (values[name] ?? fail(`--${name} must be ${rule(specs[name]!)}, got nothing`)) as never,
    fail,
  };
}
