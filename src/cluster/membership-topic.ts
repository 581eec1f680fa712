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

/**
 * `/pulsing/<cluster>/members/1` on gossipsub. Only admitted peers' messages are taken or forwarded; a peer whose
 * admission is still running is ignored rather than rejected (a rejection would count against its gossipsub score,
 * and in a large cluster joining at once those penalties kept peers out of the mesh).
 */
export function gossipsubTopic(pubsub: GossipSub, topic: string, isAdmitted: (peer: string) => boolean): MembershipTopic {
  let onMessage: ((event: CustomEvent<PubsubMessage>) => void) | undefined;
  let onSubscription: ((event: CustomEvent<{ subscriptions: Array<{ topic: string; subscribe: boolean }> }>) => void) | undefined;
  const subscribed: Array<() => void> = [];
  return {
    start(deliver) {
      pubsub.topicValidators.set(topic, (source, message) => {
        if (message.type !== "signed") return TopicValidatorResult.Reject;
        return isAdmitted(source.toString()) ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
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
    onPeerSubscribed(listener) {
      subscribed.push(listener);
    },
  };
}
