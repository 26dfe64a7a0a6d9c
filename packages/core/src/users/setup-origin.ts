// Where first-run setup may come from: the box's own network, or a public name the administrator set.
import { isIP } from 'node:net';
import { NookError } from '../errors';

/**
 * The host name in a Host header (`host[:port]`) or an Origin (`scheme://host[:port]`): lower-case,
 * without port, IPv6 brackets or a trailing dot; null when it does not parse.
 */
export function hostNameOf(value: string, kind: 'host' | 'origin'): string | null {
  if (!value || value === 'null') return null;
  try {
    const url = new URL(kind === 'origin' ? value : `http://${value}`);
    if (kind === 'host' && (url.username || url.password || url.pathname !== '/' || url.search)) return null;
    const name = url.hostname
      .replace(/^\[|\]$/g, '')
      .replace(/\.$/, '')
      .toLowerCase();
    return name || null;
  } catch {
    return null;
  }
}

function privateIPv4(address: string): boolean {
  const [a = -1, b = -1] = address.split('.').map(Number);
  return (
    a === 10 ||
    a === 127 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    // Carrier-grade NAT space, which is also where Tailscale and similar overlays number devices.
    (a === 100 && b >= 64 && b <= 127)
  );
}

function privateIPv6(address: string): boolean {
  if (address === '::1') return true;
  // IPv4-mapped, which URL parsing writes as two hextets (::ffff:c0a8:10a).
  const mapped = /^::ffff:(?:([\d.]+)|([0-9a-f]{1,4}):([0-9a-f]{1,4}))$/.exec(address);
  if (mapped) {
    if (mapped[1]) return privateIPv4(mapped[1]);
    const high = parseInt(mapped[2]!, 16);
    const low = parseInt(mapped[3]!, 16);
    return privateIPv4(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  const first = address.startsWith('::') ? 0 : parseInt(address.split(':')[0]!, 16);
  return (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
}

/**
 * Names no one outside the household can point at this box: loopback and private addresses,
 * `localhost`, the local-only suffixes, and a bare host name (the box's own, such as `nook`).
 */
export function isHouseholdHost(name: string): boolean {
  const version = isIP(name);
  if (version === 4) return privateIPv4(name);
  if (version === 6) return privateIPv6(name);
  if (name === 'localhost' || /^[a-z0-9-]+$/.test(name)) return true;
  return ['.localhost', '.local', '.lan', '.home.arpa', '.internal'].some((suffix) => name.endsWith(suffix));
}

export interface SetupRequest {
  /** The Host the request was made to (X-Forwarded-Host when the proxy is trusted). */
  host: string | undefined;
  /** The Origin header, when the client sent one (browsers do on every POST). */
  origin: string | undefined;
  /** The client's address (behind a trusted proxy, the address the proxy saw). */
  ip: string;
}

/**
 * First-run setup creates the administrator, so it must not be reachable by a page elsewhere on the
 * internet whose name was re-pointed at this box (DNS rebinding): such a request carries that name as
 * its Host. Both the Host and any Origin must name the household's network or a configured public name.
 */
export function checkSetupOrigin(request: SetupRequest, publicHosts: readonly string[]): void {
  const allowed = (name: string | null): boolean =>
    name !== null && (isHouseholdHost(name) || publicHosts.includes(name));
  const host = hostNameOf(request.host ?? '', 'host');
  const origin = request.origin === undefined ? host : hostNameOf(request.origin, 'origin');
  const isPublic = (name: string | null) => name !== null && publicHosts.includes(name);
  // A home-network name is only as good as the network the request came from: a proxy that does not
  // pass the Host on would otherwise make every stranger look local.
  const fromHome = isHouseholdHost(request.ip.split('%')[0]!.toLowerCase());
  if (allowed(host) && allowed(origin) && (fromHome || (isPublic(host) && isPublic(origin)))) return;
  const seen =
    [host, origin].find((name) => !allowed(name))?.slice(0, 100) ??
    (fromHome ? 'an unknown address' : `${host ?? 'an unknown name'} from outside the home network`);
  throw new NookError(
    'FORBIDDEN',
    `first-run setup is only open from the home network, and this request came as ${seen}. ` +
      'Open Nook by its local address (such as http://nook.local:8080 or its IP address), or, if ' +
      `${seen} is your own public address for Nook, add it to NOOK_PUBLIC_ORIGIN and restart.`,
  );
}
