/*
 * HTTP over a Unix socket on the accept loop: `node build/demo/unix.js --path /tmp/demo.sock`,
 * then `curl --unix-socket /tmp/demo.sock http://localhost/`.
 */
import { createServer } from 'node:http';
import { runExample } from './example';

runExample('unix', createServer((request, response) => response.end(`hello over a unix socket, ${request.url}\n`)));
