import * as pul from "pulsing";

const config = (await (await fetch("/config.json")).json()) as { seeds: string[]; protected: boolean };
const secret = new URLSearchParams(location.hash.slice(1)).get("secret") ?? undefined;
const system = await pul.init({ seeds: config.seeds, ...(secret !== undefined ? { passphrase: secret } : {}) });
(globalThis as Record<string, unknown>).pul = pul;
(globalThis as Record<string, unknown>).system = system;
document.querySelector("#app")!.textContent = `node ${system.nodeId}`;
