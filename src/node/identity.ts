import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";

/** A new libp2p private key (protobuf bytes), for `actorSystem({ privateKey })`. */
export async function generatePrivateKey(): Promise<Uint8Array> {
  const { generateKeyPair, privateKeyToProtobuf } = await import("@libp2p/crypto/keys");
  return privateKeyToProtobuf(await generateKeyPair("Ed25519"));
}

/** The key stored at `path` (hex), created on first use: a node that keeps its `nodeId` across restarts. */
export async function loadOrCreatePrivateKey(path: string): Promise<Uint8Array> {
  try {
    return Uint8Array.from(Buffer.from((await readFile(path, "utf8")).trim(), "hex"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const key = await generatePrivateKey();
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, Buffer.from(key).toString("hex"), { mode: 0o600 });
  return key;
}
