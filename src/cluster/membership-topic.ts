import { TopicValidatorResult, type GossipSub, type Message as PubsubMessage } from "@libp2p/gossipsub";

/**
 * The membership topic as membership uses it: signed messages out, and in with their signed author. Gossipsub in
 * nodes (`gossipsubTopic`); a simulated network in tests.
 */
export interface MembershipTopic {
  /** Starts delivering the topic's messages (from admitted authors, signature checked) to `onMessage`. */
  start(onMessage: (author: string, data: Uint8Array) => void): void;
  stop(): void;
  /** Publishes signed by this node; resolves to how many peers it was sent to (0: nobody subscribed yet). */
  publish(data: Uint8Array): Promise<number>;
  /** Calls `listener` when a peer subscribes to the topic (a message that reached nobody can go out again). */
  onPeerSubscribed(listener: () => void): void;
}

/** A gossipsub topic that also tells which peers a message was sent to (topics fall back to direct sends for the rest). */
export interface GossipsubTopic extends MembershipTopic {
  /** Publishes signed by this node; resolves to the peers it was sent to directly (one hop). */
  publishTo(data: Uint8Array): Promise<string[]>;
}

/**
 * `/pulsing/<cluster>/members/1` on gossipsub (and Pulsing topics' gossip, src/streaming/topic.ts). Only admitted
 * peers' messages are taken or forwarded; a peer whose admission is still running is ignored rather than rejected (a
 * rejection would count against its gossipsub score, and in a large cluster joining at once those penalties kept
 * peers out of the mesh). A payload `accepts` refuses (or throws on) is rejected: neither delivered nor relayed.
 */
export function gossipsubTopic(
  pubsub: GossipSub,
  topic: string,
  isAdmitted: (peer: string) => boolean,
  accepts: (data: Uint8Array) => boolean = () => true,
): GossipsubTopic {
  let onMessage: ((event: CustomEvent<PubsubMessage>) => void) | undefined;
  let onSubscription: ((event: CustomEvent<{ subscriptions: Array<{ topic: string; subscribe: boolean }> }>) => void) | undefined;
  const subscribed: Array<() => void> = [];
  return {
    start(deliver) {
      pubsub.topicValidators.set(topic, (source, message) => {
        if (message.type !== "signed") return TopicValidatorResult.Reject;
        if (!isAdmitted(source.toString())) return TopicValidatorResult.Ignore;
        try {
          return accepts(message.data) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject;
        } catch {
          return TopicValidatorResult.Reject;
        }
      });
      onMessage = (event) => {
        const message = event.detail;
        if (message.topic === topic && message.type === "signed") deliver(message.from.toString(), message.data);
      };
      onSubscription = (event) => {
        if (event.detail.subscriptions.some((s) => s.topic === topic && s.subscribe)) for (const listener of subscribed) listener();
      };
      pubsub.addEventListener("message", onMessage);
      pubsub.addEventListener("subscription-change", onSubscription as never);
      pubsub.subscribe(topic);
    },
    stop() {
      if (onMessage !== undefined) pubsub.removeEventListener("message", onMessage);
      if (onSubscription !== undefined) pubsub.removeEventListener("subscription-change", onSubscription as never);
      pubsub.unsubscribe(topic);
      pubsub.topicValidators.delete(topic);
    },
    async publish(data) {
      const result = await pubsub.publish(topic, data);
      return result.recipients.length;
    },
    async publishTo(data) {
      const result = await pubsub.publish(topic, data);
      return result.recipients.map((peer) => peer.toString());
    },
    onPeerSubscribed(listener) {
      subscribed.push(listener);
    },
  };
}
