/*
 * gRPC (@grpc/grpc-js) on the accept loop: `node build/demo/frameworks/grpc.js [--port N] [--limit N] [--hold-ms N]`,
 * then call hello.Greeter/SayHello (demo/frameworks/hello.proto) in plaintext at 127.0.0.1:PORT.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadPackageDefinition, Server, ServerCredentials, status, type handleUnaryCall, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { reply, serveRecipe } from './common';

// tsc does not copy the .proto into build/: look beside this file (run from source), then in
// the source folder from build/demo/frameworks/ (the compiled script).
const protoPath = [join(__dirname, 'hello.proto'), join(__dirname, '..', '..', '..', 'demo', 'frameworks', 'hello.proto')].find((path) => existsSync(path));
if (protoPath === undefined) throw new Error(`grpc example: hello.proto not found from ${__dirname}`);
const hello: unknown = loadPackageDefinition(loadSync(protoPath)).hello;
const Greeter: unknown = typeof hello === 'object' && hello !== null && 'Greeter' in hello ? hello.Greeter : undefined;
if (!isService(Greeter)) throw new Error('grpc example: hello.proto has no service hello.Greeter');

function isService(value: unknown): value is ServiceClientConstructor {
  return typeof value === 'function' && 'service' in value;
}

const sayHello: handleUnaryCall<unknown, { message: string }> = (_call, callback) => {
  reply('grpc').then(
    (message) => callback(null, { message }),
    (error: unknown) => callback({ code: status.INTERNAL, details: String(error) }),
  );
};

const server = new Server();
server.addService(Greeter.service, { SayHello: sayHello });

// Trap: grpc-js's HTTP/2 server is private (bindAsync() creates one and listens it): there is
// no server to give handTo. Its connection injector creates one that never listens and takes
// sockets instead: `injectConnection(socket)` emits 'connection' on it. Nothing needs binding
// or starting first (start() is deprecated since 1.10; calls are served once the service is
// added). One connection is one HTTP/2 session, however many calls it carries at once, and an
// idle channel keeps it open: it holds its slot until the client closes the channel, unless
// the server is created with `'grpc.max_connection_idle_ms'` (GOAWAY to sessions idle that
// long) or the loop has silenceTimeout(ms).
const injector = server.createConnectionInjector(ServerCredentials.createInsecure());

let shutDown: Promise<void> | undefined;
serveRecipe(({ socket }) => injector.injectConnection(socket), {
  // tryShutdown() closes every HTTP/2 server grpc-js made, the injector's too, and calls
  // session.close() on each of their sessions: GOAWAY, the client starts no new call, those in
  // flight finish, then the session and its socket close (an idle channel's at once). Its
  // callback comes when all are closed. (forceShutdown() would cancel the calls in flight.)
  closeConnections: () => {
    shutDown = new Promise((resolve) => server.tryShutdown(() => resolve()));
  },
  close: () => shutDown,
});
