/* What the benchmarks' raw clients make of a response or of a connection's error. */

/** The status code of an HTTP/1.x response whose head starts `text`, if it has one. */
export function httpStatus(text: string): string | undefined {
  return /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
}

/** A connection's error as an outcome: 'refused' (ECONNREFUSED), 'reset' (ECONNRESET, EPIPE), else its code. */
export function connectionError(code: string | undefined): string {
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return code ?? 'error';
}
