import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { isAddrHint } from "../wire/addr-hint.js";

/**
 * Addresses as users write them: `"host:port"` shorthand or multiaddr strings.
 *
 * Listening on `"host:port"` means TCP on `port` and WebSockets on `port + 1` (browsers can only reach the
 * latter); port 0 picks free ports for both. Dialing `"host:port"` means the TCP port from Node and Deno, and the
 * WebSocket port (`port + 1`) from browsers.
 */

const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/\s]+)):(\d{1,5})$/;

interface HostPort {
  host: string;
  family: "ip4" | "ip6" | "dns";
  port: number;
}

function parseHostPort(where: string, value: string): HostPort | undefined {
  const match = HOST_PORT.exec(value);
  if (match === null) return undefined;
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port > 65_535) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: port out of range in '${value}'`);
  const family = match[1] !== undefined || host.includes(":") ? "ip6" : /^\d{1,3}(\.\d{1,3}){3}$/.test(host) ? "ip4" : "dns";
  return { host: host === "localhost" ? "127.0.0.1" : host, family: host === "localhost" ? "ip4" : family, port };
}

function hostPart({ host, family }: HostPort): string {
  return family === "dns" ? `/dns/${host}` : `/${family}/${host}`;
}

function parseMultiaddr(where: string, value: string): Multiaddr {
  try {
    return multiaddr(value);
  } catch (error) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      `${where}: '${value}' is neither "host:port" nor a valid multiaddr (${(error as Error).message})`,
    );
  }
}

/** What a Node/Deno node listens on for `addr`. */
export function listenAddrs(addr: string): string[] {
  if (typeof addr !== "string" || addr.length === 0)
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, 'addr: expected "host:port" or a multiaddr');
  const hp = parseHostPort("addr", addr);
  if (hp === undefined) return [parseMultiaddr("addr", addr).toString()];
  if (hp.family === "dns")
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `addr: listen on an IP address, not the host name '${hp.host}'`);
  const wsPort = hp.port === 0 ? 0 : hp.port + 1;
  if (wsPort > 65_535)
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `addr: port ${hp.port} leaves no room for the WebSocket port ${wsPort}`);
  return [`${hostPart(hp)}/tcp/${hp.port}`, `${hostPart(hp)}/tcp/${wsPort}/ws`];
}

/** What to dial for a seed, from a runtime that dials `transport`. */
export function seedAddr(seed: string, transport: "tcp" | "ws"): Multiaddr {
  if (typeof seed !== "string" || seed.length === 0)
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, 'seeds: expected "host:port" or multiaddr strings');
  const hp = parseHostPort("seeds", seed);
  if (hp === undefined) return parseMultiaddr("seeds", seed);
  if (hp.port === 0) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `seeds: '${seed}' has port 0`);
  return multiaddr(transport === "tcp" ? `${hostPart(hp)}/tcp/${hp.port}` : `${hostPart(hp)}/tcp/${hp.port + 1}/ws`);
}

/**
 * Seed addresses by node: those naming the same `/p2p/<id>` are one seed (a seed on `0.0.0.0` lists an address per
 * interface), dialed and kept connected as one; an address without an id is a seed of its own.
 */
export function seedGroups(addrs: readonly Multiaddr[]): Multiaddr[][] {
  const groups: Multiaddr[][] = [];
  const byPeer = new Map<string, Multiaddr[]>();
  for (const addr of addrs) {
    const peer = peerOf(addr);
    const group = peer === undefined ? undefined : byPeer.get(peer);
    if (group !== undefined) {
      group.push(addr);
      continue;
    }
    groups.push([addr]);
    if (peer !== undefined) byPeer.set(peer, groups.at(-1)!);
  }
  return groups;
}

/** The node an address leads to: its last `/p2p/<id>` (a relay's id comes before `/p2p-circuit`), if any. */
export function peerOf(addr: Multiaddr): string | undefined {
  return addr.getComponents().findLast((c) => c.name === "p2p")?.value;
}

/**
 * The multiaddrs of an untrusted address hint for `peer` (from a ref or a find-node answer; see
 * `../wire/addr-hint.ts`): nothing unless it has a hint's shape; then every string that parses as a multiaddr and
 * does not end in another peer's id (a relay's id inside a circuit address is fine).
 */
export function addrsFromHint(peer: string, hint: unknown): Multiaddr[] {
  if (!isAddrHint(hint)) return [];
  const addrs: Multiaddr[] = [];
  for (const text of hint) {
    let addr: Multiaddr;
    try {
      addr = multiaddr(text);
    } catch {
      continue;
    }
    const last = addr.getComponents().at(-1);
    if (last === undefined || (last.name === "p2p" && last.value !== peer)) continue;
    addrs.push(addr);
  }
  return addrs;
}
