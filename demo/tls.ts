/*
 * A TLS echo server on the accept loop, with a 10 s handshake timeout (a client that never
 * finishes its handshake is closed and frees its slot): `node build/demo/tls.js [--port N]`,
 * then `openssl s_client -connect 127.0.0.1:PORT -CAfile demo/certs/localhost-cert.pem`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { runExample } from './example';

const certs = join(__dirname, '..', '..', 'demo', 'certs');
const server = createServer(
  { key: readFileSync(join(certs, 'localhost-key.pem')), cert: readFileSync(join(certs, 'localhost-cert.pem')), handshakeTimeout: 10_000 },
  (socket) => socket.pipe(socket),
);
runExample('tls', server);
