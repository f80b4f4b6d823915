import { FATAL_RESUME_ERRORS } from './classify';
import { checkOneOf, checkOptions } from '../util/validate';
import type { AcceptError, During } from './result';

const ERRORS_DOC = 'rxjs-listen/docs/errors.md';

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

// EACCES and EPERM from listening again after a pause (`FATAL_RESUME_ERRORS`): the section both share.
const RESUME_REFUSED =
  'Listening again after a pause was refused: pausing closes the listening socket, and the process may no longer bind this address (a port below 1024 after it dropped root privileges). Keep the right to bind (grant `CAP_NET_BIND_SERVICE`, e.g. systemd `AmbientCapabilities=CAP_NET_BIND_SERVICE`, instead of starting as root and dropping it), listen on a port >= 1024 behind a proxy or an iptables redirect, or keep the listener from pausing at the limit (a longer wait queue, `new Limiter(limit, { queueSize })`, or a higher limit).';

/**
 * A short remediation for an error, with a link to its section in `docs/errors.md`, for the
 * people who run the server: these errors usually mean a misconfigured system.
 *
 * @example
 * errorHint(Object.assign(new Error('too many'), { code: 'EMFILE' }));
 * // Output: 'The process ran out of file descriptors. Raise its open-file limit (...). See rxjs-listen/docs/errors.md#emfile'
 *
 * @param error An error with a `code`.
 * @param during When it happened (an accept result's or a {@link index!ListenError}'s `during`); with
 *   `'resume'`, EACCES and EPERM mean the process lost the right to bind the address. Default `'accept'`.
 * @returns The hint, or `undefined` for codes without one.
 * @throws {TypeError} When `error` is not an object, or `during` not one of its values.
 */
export function errorHint(error: AcceptError, during: During = 'accept'): string | undefined {
  const code = checkOptions('errorHint: error', error, 'an error').code ?? '';
  checkOneOf('errorHint: during', during, ['start', 'accept', 'resume']);
  if (during === 'resume' && FATAL_RESUME_ERRORS.has(code)) return `${RESUME_REFUSED} See ${ERRORS_DOC}#eacces-or-eperm-when-listening-again`;
  const hint = HINTS[code];
  if (hint === undefined) return undefined;
  // A Unix socket's error has its path as `address` and port -1 (Node 20-26).
  const { port, address } = error as { port?: number; address?: unknown };
  if (code === 'EACCES' && (port === undefined || port < 0) && typeof address === 'string' && address.includes('/')) {
    return `The Unix socket's folder must exist and be writable by this process: create it (systemd: \`RuntimeDirectory=\`) or choose another path. See ${ERRORS_DOC}#eacces`;
  }
  if (code === 'EACCES' && !(port !== undefined && port >= 0 && port < 1024)) {
    return `Permission denied: check the socket path's directory permissions, or the port's privileges. See ${ERRORS_DOC}#eacces`;
  }
  return `${hint} See ${ERRORS_DOC}#${code.toLowerCase()}`;
}
