import type { ActorContext } from "./context.js";

/**
 * Base class for message-level actors: implement `receive(msg, ctx)`; its return value is the reply
 * (return an iterable, a generator or a streaming `Message` to stream). Any object with `receive()` works too.
 */
export abstract class Actor {
  abstract receive(msg: any, ctx: ActorContext): unknown;
  onStart?(ctx: ActorContext): unknown;
  onStop?(): unknown;
}
