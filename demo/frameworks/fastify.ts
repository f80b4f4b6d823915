/*
 * Fastify 5 on the accept loop: `node build/demo/frameworks/fastify.js [--port N] [--limit N] [--hold-ms N]`.
 */
import Fastify from 'fastify';
import { reply, serveRecipe } from './common';

async function main(): Promise<void> {
  // Fastify keeps idle keep-alive connections 72 s by default (keepAliveTimeout: 72_000), and
  // each holds a slot all that time: Node's 5 s gives slots back sooner under a limit.
  const app = Fastify({ keepAliveTimeout: 5_000 });
  app.get('/', async () => reply('fastify'));

  // Trap: `app.listen()` would boot the app first. Without `await app.ready()`, plugins and
  // routes are not loaded when the first connection arrives, and that request crashes the process.
  await app.ready();
  // `app.server` is the http.Server Fastify created (never listening here).
  serveRecipe(app.server, {
    // Once the connections are gone: Fastify's onClose hooks. (Called at the signal instead,
    // app.close() would run them while requests are still in flight: the server.close() it waits
    // for returns at once on a server that never listened.)
    close: () => app.close(),
  });
}

main().catch((error: unknown) => {
  console.error('fastify example:', error);
  process.exit(1);
});
