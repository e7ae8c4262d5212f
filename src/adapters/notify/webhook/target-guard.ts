/**
 * Server-side request forgery guard for URLs users give us (webhook endpoints, push
 * subscriptions): the host is resolved once, every address it resolves to is checked against
 * the private, loopback, link-local, CGNAT, multicast, reserved and cloud-metadata ranges, and
 * the connection is then made to the address that was checked (a pinned `lookup`), so a DNS
 * answer that changes between the check and the connect (DNS rebinding) cannot reach inside.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import { ErrorCodes, HeraldError } from '../../../errors.ts';
import {
  DeliveryError,
  httpDeliveryError,
  transportDeliveryError,
} from '../../../ports/notifier.ts';
import { parseRetryAfter } from '../http.ts';

const REFUSED_V4: Array<[string, number]> = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT (also Alibaba's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, incl. the 169.254.169.254 metadata service
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, incl. broadcast
];
// Public addresses that are nonetheless cloud metadata / control endpoints.
const REFUSED_V4_HOSTS = ['168.63.129.16'];
const REFUSED_V6: Array<[string, number]> = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (incl. AWS's fd00:ec2::254 metadata)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // deprecated site-local
  ['ff00::', 8], // multicast
];

const refused = new BlockList();
for (const [net, prefix] of REFUSED_V4) refused.addSubnet(net, prefix, 'ipv4');
for (const host of REFUSED_V4_HOSTS) refused.addAddress(host, 'ipv4');
for (const [net, prefix] of REFUSED_V6) refused.addSubnet(net, prefix, 'ipv6');

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), NAT64 or 6to4 IPv6 address. */
export function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/.exec(lower);
  const parts = hex ?? sixToFour;
  if (!parts) return undefined;
  const high = Number.parseInt(parts[1] ?? '0', 16);
  const low = Number.parseInt(parts[2] ?? '0', 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Whether an address is in a range no user-supplied URL may reach. */
export function isRefusedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return refused.check(address, 'ipv4');
  if (family === 6) {
    const inner = embeddedIpv4(address);
    if (inner !== undefined && isIP(inner) === 4 && refused.check(inner, 'ipv4')) return true;
    return refused.check(address, 'ipv6');
  }
  return true;
}

export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

export interface TargetGuardOptions {
  /** Addresses or CIDRs allowed although private (WEBHOOK_ALLOW_PRIVATE_TARGETS). */
  allow: readonly string[];
  /** Replaces DNS (tests). */
  resolve?: Resolver;
}

/** Where a checked URL will be connected to. */
export interface CheckedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

function parseAllowList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [net = '', bits] = entry.split('/');
    const family = isIP(net);
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
      throw new HeraldError(
        ErrorCodes.CONFIG_INVALID,
        `WEBHOOK_ALLOW_PRIVATE_TARGETS: "${entry}" is not an IP address or CIDR`,
        { details: { setting: 'WEBHOOK_ALLOW_PRIVATE_TARGETS' } },
      );
    }
    list.addSubnet(net, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return list;
}

const refusedTarget = (message: string, details: Record<string, unknown>) =>
  new HeraldError(ErrorCodes.TARGET_REFUSED, message, { details });

/**
 * Checks URLs and sends to them without following redirects.
 *
 * @example
 * const guard = new TargetGuard({ allow: [] });
 * await guard.check('http://169.254.169.254/latest/meta-data'); // throws TARGET_REFUSED
 */
export class TargetGuard {
  readonly #allow: BlockList;
  readonly #resolve: Resolver;

  constructor(options: TargetGuardOptions) {
    this.#allow = parseAllowList(options.allow);
    this.#resolve = options.resolve ?? systemResolver;
  }

  #allowed(address: string): boolean {
    const family = isIP(address);
    if (family === 0) return false;
    if (this.#allow.check(address, family === 6 ? 'ipv6' : 'ipv4')) return true;
    const inner = family === 6 ? embeddedIpv4(address) : undefined;
    return inner !== undefined && this.#allow.check(inner, 'ipv4');
  }

  /**
   * Resolves the URL's host and returns the address to connect to; throws TARGET_REFUSED
   * when the URL is not http(s), carries credentials, or any address it resolves to is in a
   * refused range and not allowed. Checking every address (not only the first) keeps a
   * hostname with one public and one private answer out.
   */
  async check(rawUrl: string): Promise<CheckedTarget> {
    let url: URL;
    try {
      url = new URL(rawUrl);
    } catch {
      throw refusedTarget(`"${rawUrl}" is not a URL`, { url: rawUrl });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refusedTarget('only http and https URLs are allowed', { url: rawUrl });
    }
    if (url.username !== '' || url.password !== '') {
      throw refusedTarget('URLs with credentials are not allowed', { url: url.origin });
    }
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: LookupAddress[];
    if (isIP(host) !== 0) {
      addresses = [{ address: host, family: isIP(host) }];
    } else {
      try {
        addresses = await this.#resolve(host);
      } catch (error) {
        throw new DeliveryError(`cannot resolve ${host}: ${String(error)}`, {
          retryable: true,
          cause: error,
        });
      }
    }
    if (addresses.length === 0) {
      throw new DeliveryError(`${host} resolves to no address`, { retryable: true });
    }
    for (const { address } of addresses) {
      if (isRefusedAddress(address) && !this.#allowed(address)) {
        throw refusedTarget(
          `${host} resolves to ${address}, a private, loopback or reserved address ` +
            '(allow it with WEBHOOK_ALLOW_PRIVATE_TARGETS)',
          { host, address },
        );
      }
    }
    const first = addresses[0] as LookupAddress;
    return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
  }

  /**
   * POSTs `body` to a checked URL, connecting to the checked address (TLS still verifies the
   * certificate of the URL's host). A 3xx is a failure: redirects are never followed, as
   * they could lead anywhere. Resolves with the status on 2xx; throws DeliveryError.
   */
  async post(
    provider: string,
    rawUrl: string,
    headers: Record<string, string>,
    body: string | Uint8Array,
    signal: AbortSignal,
  ): Promise<{ status: number; headers: Headers }> {
    let target: CheckedTarget;
    try {
      target = await this.check(rawUrl);
    } catch (error) {
      if (error instanceof HeraldError && error.code === ErrorCodes.TARGET_REFUSED) {
        throw new DeliveryError(error.message, { retryable: false, cause: error });
      }
      throw error;
    }
    const { url, address, family } = target;
    const client = url.protocol === 'https:' ? https : http;
    const pinned = (
      _hostname: string,
      options: { all?: boolean },
      callback: (...args: unknown[]) => void,
    ) => {
      if (options.all) callback(null, [{ address, family }]);
      else callback(null, address, family);
    };
    let answer: { status: number; headers: Headers; text: string };
    try {
      answer = await new Promise((resolve, reject) => {
        const request = client.request(
          url,
          {
            method: 'POST',
            headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
            lookup: pinned as never,
            signal,
            agent: false,
          },
          (response) => {
            let text = '';
            response.setEncoding('utf8');
            response.on('data', (chunk: string) => {
              // Only the start is kept for the delivery log; the rest is drained.
              if (text.length < 1000) text += chunk;
            });
            response.on('end', () => {
              const responseHeaders = new Headers();
              for (const [name, value] of Object.entries(response.headers)) {
                if (typeof value === 'string') responseHeaders.set(name, value);
              }
              resolve({ status: response.statusCode ?? 0, headers: responseHeaders, text });
            });
            response.on('error', reject);
          },
        );
        request.on('error', reject);
        request.end(body);
      });
    } catch (error) {
      throw transportDeliveryError(provider, error, signal);
    }
    if (answer.status >= 300 && answer.status < 400) {
      throw new DeliveryError(
        `${provider} answered ${answer.status} (redirect to ${answer.headers.get('location') ?? '?'}); redirects are not followed`,
        { retryable: false, statusCode: answer.status },
      );
    }
    if (answer.status < 200 || answer.status >= 300) {
      throw httpDeliveryError(
        provider,
        answer.status,
        answer.text,
        parseRetryAfter(answer.headers),
      );
    }
    return { status: answer.status, headers: answer.headers };
  }
}
