/*
 * HTTPS on the accept loop: `node build/demo/https.js [--port N]`, then
 * `curl --cacert demo/certs/localhost-cert.pem https://localhost:PORT/`.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { runExample } from './example';

const certs = join(__dirname, '..', '..', 'demo', 'certs');
const app = createServer(
  { key: readFileSync(join(certs, 'localhost-key.pem')), cert: readFileSync(join(certs, 'localhost-cert.pem')) },
  (request, response) => response.end(`hello over https, ${request.method} ${request.url}\n`),
);
runExample('https', app);
