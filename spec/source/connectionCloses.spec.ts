import { once } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { onConnectionClosed } from '../../src/source/connectionCloses';
import { connect, sleep } from '../support/net';

describe('onConnectionClosed', () => {
  let server: Server;
  let accepted: Socket[];
  let port: number;
  beforeEach(async () => {
    accepted = [];
    server = createServer((socket) => void accepted.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    accepted.forEach((s) => s.destroy());
    await new Promise((resolve) => server.close(resolve));
  });

  async function acceptOne(): Promise<{ client: Socket; socket: Socket }> {
    const client = await connect(port);
    for (let i = 0; i < 100 && accepted.length === 0; i++) await sleep(5); // bounded
    return { client, socket: accepted.pop()! };
  }

  it('calls back each time an accepted connection is destroyed, and no more once stopped', async () => {
    let closes = 0;
    const stop = onConnectionClosed(server, () => closes++)!;
    expect(stop).toBeInstanceOf(Function);
    const first = await acceptOne();
    first.socket.destroy();
    expect(closes).toBe(1); // synchronously: the descriptor is closed by then
    first.client.destroy();
    stop();
    const second = await acceptOne();
    second.socket.destroy();
    second.client.destroy();
    expect(closes).toBe(1);
  });

  it("keeps Node's own bookkeeping: a closed server still emits 'close' once its last connection ends", async () => {
    const stop = onConnectionClosed(server, () => undefined)!;
    const { client, socket } = await acceptOne();
    const closed = once(server, 'close');
    server.close();
    socket.destroy();
    await closed;
    client.destroy();
    stop();
    server.listen(0, '127.0.0.1'); // for afterEach's close
    await once(server, 'listening');
  });

  it('stacks: two hooks both hear each close; stopping the inner one first leaves the outer working', async () => {
    const heard: string[] = [];
    const stopInner = onConnectionClosed(server, () => heard.push('inner'))!;
    const stopOuter = onConnectionClosed(server, () => heard.push('outer'))!;
    stopInner(); // wrapped since: stays in the chain (its caller ignores late calls)
    const { client, socket } = await acceptOne();
    socket.destroy();
    client.destroy();
    expect(heard).toEqual(['outer', 'inner']);
    stopOuter();
    expect(Object.prototype.hasOwnProperty.call(server, '_emitCloseIfDrained')).toBe(true); // the inner one
  });

  it('restores the server as it was', () => {
    const stop = onConnectionClosed(server, () => undefined)!;
    expect(Object.prototype.hasOwnProperty.call(server, '_emitCloseIfDrained')).toBe(true);
    stop();
    expect(Object.prototype.hasOwnProperty.call(server, '_emitCloseIfDrained')).toBe(false);
    stop(); // twice: harmless
  });

  it('returns undefined where Node has no hook for closes', () => {
    const bare = Object.create(null) as Server;
    expect(onConnectionClosed(bare, () => undefined)).toBeUndefined();
  });
});
