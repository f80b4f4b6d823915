import type { AcceptError } from './result';

/** Where the hints point to: the package's own error guide, one section per error code. */
export const ERRORS_DOC = 'rxjs-listen/docs/errors.md';

const HINTS: Readonly<Record<string, string>> = {
  EMFILE:
    'The process ran out of file descriptors. Raise its open-file limit (`ulimit -n 65536`, systemd `LimitNOFILE=65536`, `docker run --ulimit nofile=65536:65536`) or lower the connection limit.',
  ENFILE:
    'The whole system ran out of file descriptors. Raise `fs.file-max` (`sysctl -w fs.file-max=...`) or find the process holding them (`lsof | wc -l`).',
  ENOBUFS:
    'The kernel ran out of socket buffer memory. Lower the connection limit or raise `net.core.*mem` / `net.ipv4.tcp_mem`.',
  ENOMEM:
    'The system is out of memory. Lower the connection limit or give the process more memory.',
  EADDRINUSE:
    'Another process holds this address. Find it with `ss -ltnp` (or `lsof -i :PORT`), stop it, or choose another port.',
  EACCES:
    'Ports below 1024 need privileges. Use a port above 1023, or grant `CAP_NET_BIND_SERVICE` (`setcap cap_net_bind_service=+ep $(which node)`), or put a proxy in front.',
  EADDRNOTAVAIL:
    'This host has no interface with that address. Listen on `0.0.0.0`, `::` or an address the host owns.',
};

/**
 * A short remediation for an error, with a link to its section in `docs/errors.md`, for the
 * people who run the server: these errors usually mean a misconfigured system.
 *
 * @example
 * errorHint(Object.assign(new Error('too many'), { code: 'EMFILE' }));
 * // Output: 'The process ran out of file descriptors. Raise its open-file limit (...). See rxjs-listen/docs/errors.md#emfile'
 *
 * @param error An error with a `code`.
 * @returns The hint, or `undefined` for codes without one.
 */
export function errorHint(error: AcceptError): string | undefined {
  const code = error.code ?? '';
  const hint = HINTS[code];
  if (hint === undefined) return undefined;
  const port = (error as { port?: number }).port;
  if (code === 'EACCES' && !(port !== undefined && port < 1024)) {
    return `Permission denied: check the socket path's directory permissions, or the port's privileges. See ${ERRORS_DOC}#eacces`;
  }
  return `${hint} See ${ERRORS_DOC}#${code.toLowerCase()}`;
}
