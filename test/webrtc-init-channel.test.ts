/**
 * The work-around of `@libp2p/webrtc`'s `init`-channel race (src/transport/webrtc-init-channel.ts) on real libp2p
 * nodes: Node's WebRTC (node-datachannel), signalled through a real circuit relay on 127.0.0.1, in a child process
 * (test/fixtures/webrtc-init-dial.ts). Which side closed `init` is read from the nodes' own libp2p logs.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));

interface DialLog {
  dialer: string[];
  answerer: string[];
  attempts: number;
  error?: string;
}

async function dialOverWebRTC(workAround: boolean): Promise<DialLog> {
  const fixture = "test/fixtures/webrtc-init-dial.ts";
  const args = ["--conditions=pulsing-source", "--import", "tsx", fixture, workAround ? "with" : "without"];
  const { stdout } = await promisify(execFile)(process.execPath, args, { cwd: root, timeout: 90_000, maxBuffer: 16 << 20 }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? "" }),
  );
  const result = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as DialLog;
  assert.equal(result.error, undefined, `the WebRTC dial failed (${result.attempts} attempts): ${JSON.stringify(result)}`);
  return result;
}

const isMuxerClosingInit = (line: string): boolean => /:muxer:trace closing init channel %d$/.test(line);
const isLeavingInit = (line: string): boolean => /^libp2p:webrtc:connection:inbound:.*:trace leaving init channel %d for the dialer to close$/.test(line);
const isDialerClosingInit = (line: string): boolean => line === "libp2p:webrtc:trace closing init channel";

describe("the init-channel work-around on real WebRTC connections (node-datachannel)", () => {
  it("the answering side leaves `init` to the dialer, which closes it", async () => {
    const { dialer, answerer } = await dialOverWebRTC(true);
    assert.ok(answerer.some(isLeavingInit), `the answering side left \`init\` open; its log:\n${answerer.join("\n")}`);
    assert.ok(
      !answerer.some(isMuxerClosingInit),
      "the answering side's muxer closed `init` although the work-around is on: @libp2p/webrtc's muxer changed " +
        "(its onDataChannel), so leaveInitChannelToDialer no longer engages",
    );
    assert.ok(dialer.some(isDialerClosingInit), `the dialer closed its init channel; its log:\n${dialer.join("\n")}`);
  });

  it("without it, @libp2p/webrtc's answering side closes `init` itself (the race's cause)", async () => {
    const { answerer } = await dialOverWebRTC(false);
    assert.ok(
      answerer.some(isMuxerClosingInit),
      "the answering side no longer closes `init` on arrival: check whether @libp2p/webrtc fixed the race, and " +
        `drop leaveInitChannelToDialer if so; its log:\n${answerer.join("\n")}`,
    );
  });
});
