import type { Socket } from 'node:net';
import { ipv6Prefix } from '../util/addresses';
import type { PeerRateSettings } from './limiterOptions';
import { PeerRates } from './peerRates';
import { Shedding } from './shedding';

/**
 * What a {@link index!Limiter} decides by a connection's remote address: who is shed under overload, who
 * is over `perPeerRate`, who holds `perPeer` already. Nothing is kept per address unless asked for.
 */
export class PeerPolicy {
  readonly shedding: Shedding;
  /** Ends a connection over the rate (`perPeerRate.onExceeded`); `undefined` without a rate. */
  readonly onRateExceeded: ((socket: Socket) => void) | undefined;
  // Live and waiting connections per address, only with a per-peer limit; an address is
  // forgotten with its last connection, so this never grows with the addresses ever seen.
  readonly #counts: Map<string, number> | undefined;
  readonly #rates: PeerRates | undefined;
  // perPeerRate.ipv6Prefix: IPv6 addresses share a bucket by network.
  readonly #rateBits: number | undefined;

  /** @param now The clock, ms. */
  constructor(
    private readonly perPeer: number | undefined,
    rate: PeerRateSettings | undefined,
    now: () => number,
  ) {
    this.shedding = new Shedding(now);
    this.#counts = perPeer === undefined ? undefined : new Map();
    this.#rates = rate === undefined ? undefined : new PeerRates(rate.rate, rate.burst, rate.maxAddresses, now);
    this.onRateExceeded = rate?.onExceeded;
    this.#rateBits = rate?.ipv6Prefix;
  }

  /** Judges a new connection before a byte is read: the counter it is refused under, or `undefined`. */
  screen(socket: Socket): 'droppedHeaviest' | 'droppedPerPeerRate' | undefined {
    if (this.shedding.watching && this.shedding.refuses(socket)) return 'droppedHeaviest';
    if (this.#rates === undefined) return undefined;
    const address = socket.remoteAddress ?? '';
    return this.#rates.take(this.#rateBits === undefined ? address : ipv6Prefix(address, this.#rateBits)) ? undefined : 'droppedPerPeerRate';
  }

  /**
   * Counts a connection about to take a slot or wait against `perPeer`: the address it is counted under,
   * for {@link PeerPolicy.leave}; `undefined` without a limit; `false` when its address is at it.
   */
  enter(socket: Socket): string | undefined | false {
    if (this.#counts === undefined) return undefined;
    const peer = socket.remoteAddress ?? '';
    const live = this.#counts.get(peer) ?? 0;
    if (live >= this.perPeer!) return false;
    this.#counts.set(peer, live + 1);
    return peer;
  }

  /** A connection counted by {@link PeerPolicy.enter} has gone (released, or left the queue). */
  leave(peer: string): void {
    const live = this.#counts!.get(peer)! - 1;
    if (live === 0) this.#counts!.delete(peer);
    else this.#counts!.set(peer, live);
  }

  liveFrom(address: string): number {
    return this.#counts?.get(address) ?? 0;
  }
}
