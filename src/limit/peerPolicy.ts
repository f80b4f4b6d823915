import type { Socket } from 'node:net';
import { ipv6Prefix } from '../util/addresses';
import type { PeerRateSettings } from './limiterOptions';
import { PeerCounts } from './peerCounts';
import { PeerRates } from './peerRates';
import { Shedding } from './shedding';

/**
 * What a {@link index!Limiter} decides by a connection's remote address: who is shed under overload
 * ({@link index!Limiter.shedHeaviest}), who is over `perPeerRate`, and who holds `perPeer` already.
 * Each keeps nothing per address unless its option (or a watch, for shedding) asks for it.
 */
export class PeerPolicy {
  /** Who is refused under overload (shedHeaviest). */
  readonly shedding: Shedding;
  /** Ends a connection over the rate (`perPeerRate.onExceeded`); `undefined` without a rate. */
  readonly onRateExceeded: ((socket: Socket) => void) | undefined;
  // Only with a per-peer limit: without one, nothing is kept per address.
  readonly #counts: PeerCounts | undefined;
  // Only with a per-peer rate.
  readonly #rates: PeerRates | undefined;
  // With perPeerRate.ipv6Prefix: the prefix length IPv6 addresses are counted by.
  readonly #rateBits: number | undefined;

  /**
   * @param perPeer The most connections from one address; `undefined`: no limit.
   * @param rate The rate per address; `undefined`: none.
   * @param now The clock, ms.
   */
  constructor(perPeer: number | undefined, rate: PeerRateSettings | undefined, now: () => number) {
    this.shedding = new Shedding(now);
    this.#counts = perPeer === undefined ? undefined : new PeerCounts(perPeer);
    this.#rates = rate === undefined ? undefined : new PeerRates(rate.rate, rate.burst, rate.maxAddresses, now);
    this.onRateExceeded = rate?.onExceeded;
    this.#rateBits = rate?.ipv6Prefix;
  }

  /**
   * Judges a new connection before a byte of it is read (and before it takes a slot or waits):
   * shed under overload, or over its address's rate (a token taken from its bucket if not).
   *
   * @returns The counter it is refused under, or `undefined`: it goes on.
   */
  screen(socket: Socket): 'droppedHeaviest' | 'droppedPerPeerRate' | undefined {
    if (this.shedding.watching && this.shedding.refuses(socket.remoteAddress ?? '')) return 'droppedHeaviest';
    if (this.#rates !== undefined && !this.#rates.take(this.#rateKey(socket.remoteAddress ?? ''))) return 'droppedPerPeerRate';
    return undefined;
  }

  /**
   * Counts a connection about to take a slot or wait against `perPeer`.
   *
   * @returns The address it is counted under (give it back to {@link PeerPolicy.leave} when it
   *   goes); `undefined` without a per-peer limit; `false` when its address holds `perPeer` already.
   */
  enter(socket: Socket): string | undefined | false {
    if (this.#counts === undefined) return undefined;
    const peer = socket.remoteAddress ?? '';
    return this.#counts.enter(peer) ? peer : false;
  }

  /** A connection counted by {@link PeerPolicy.enter} has gone (released, or left the queue). */
  leave(peer: string): void {
    this.#counts!.leave(peer);
  }

  /** Live and waiting connections from one remote address (counted only with a `perPeer` limit). */
  liveFrom(address: string): number {
    return this.#counts?.of(address) ?? 0;
  }

  /** The bucket an address counts in: itself, or its IPv6 network (perPeerRate.ipv6Prefix). */
  #rateKey(address: string): string {
    return this.#rateBits === undefined ? address : ipv6Prefix(address, this.#rateBits);
  }
}
