/**
 * `rxjs-listen/proxy`: the PROXY protocol (v1 and v2): the client's address behind a balancer
 * that sends it (HAProxy `send-proxy`, nginx `proxy_protocol on`, AWS NLB, ...).
 *
 * @module proxy
 */
/// <reference types="node" preserve="true" />
export { proxyProtocol, type ProxyProtocolOptions } from '../operators/proxyProtocol';
export { proxyHeaderOf, proxyPeerOf, type Peer } from '../protocol/proxyPeer';
export { ProxyTlvType, type ProxyHeader, type ProxyAddress, type ProxyTlv, type ProxySsl } from '../protocol/proxyHeader';
