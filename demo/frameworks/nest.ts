/*
 * NestJS (on @nestjs/platform-express) on the accept loop:
 * `node build/demo/frameworks/nest.js [--port N] [--limit N] [--hold-ms N]`.
 */
import 'reflect-metadata'; // Nest's decorators store their routes and modules as metadata
import { Controller, Get, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { reply, serveRecipe } from './common';

class HelloController {
  hello(): Promise<string> {
    return reply('nest');
  }
}
class AppModule {}
// In an app compiled with `experimentalDecorators` (and `emitDecoratorMetadata` for dependency
// injection), these are `@Controller()` and `@Get()` on HelloController and its method, and
// `@Module({ controllers: [HelloController] })` on AppModule. This repository compiles without
// them, so the decorators are applied as the functions they are (what tsc emits for them).
Controller()(HelloController);
Get()(HelloController.prototype, 'hello', { value: HelloController.prototype.hello });
Module({ controllers: [HelloController] })(AppModule);

async function main(): Promise<void> {
  // Our own adapter, so that its getHttpServer() is typed (http.Server | https.Server);
  // app.getHttpServer() is typed `any`. Nest logs to stdout (all but errors): errors only here,
  // so that stdout has the ready line.
  const adapter = new ExpressAdapter();
  const app = await NestFactory.create(AppModule, adapter, { logger: ['error', 'fatal'] });
  // Trap: `app.listen()` would initialize the app first. Without `await app.init()`, no route is
  // registered and every request gets 404.
  await app.init();
  const server = adapter.getHttpServer();
  serveRecipe(server, {
    // Once the connections are gone: Nest's lifecycle hooks (onModuleDestroy, ...). Not
    // app.enableShutdownHooks(): it runs them at the signal, while requests are still in
    // flight (the http.Server's close it awaits returns at once on a server that never
    // listened), and then sends itself the signal again.
    close: () => app.close(),
  });
}

main().catch((error: unknown) => {
  console.error('nest example:', error);
  process.exit(1);
});
