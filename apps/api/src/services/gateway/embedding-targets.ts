/**
 * Which of a model route's targets an embeddings request through that route may use.
 *
 * Vectors from two different models are not comparable: a request that fell over from one
 * embedding model to another would put vectors into the caller's index that match nothing
 * already there, and nothing would say so. A route's embeddings therefore fall back only to
 * targets serving the same upstream model as the first target the chain takes (after the
 * weighted draw): the same model on another provider. That first target fixes the model even
 * when it is skipped (frozen, circuit open, rate limited), so a skip never hands the request
 * to another model either.
 */

/** A target as the chain holds it: a provider and the upstream model it is sent. */
interface Target {
  p: { id: string };
  model: string;
}

export interface EmbeddingTargets<T extends Target> {
  /** The targets to try, in order: the first one's model on each provider that serves it. */
  usable: T[];
  /** The route's targets left out because they serve another model. */
  otherModels: T[];
}

/** `ordered`: the route's targets in the order the chain takes them, each offering embeddings. */
export function sameModelTargets<T extends Target>(ordered: readonly T[]): EmbeddingTargets<T> {
  const model = ordered[0]?.model;
  return {
    usable: ordered.filter((t) => t.model === model),
    otherModels: ordered.filter((t) => t.model !== model),
  };
}

/** Why a route's failed embeddings request did not go on to its targets of other models. */
export function otherModelsNotTried<T extends Target>(targets: EmbeddingTargets<T>): string {
  const model = targets.usable[0]?.model ?? "";
  const others = targets.otherModels.map((t) => `${t.p.id}/${t.model}`).join(", ");
  return `no other target serves ${model}; the route's targets of other models (${others}) are not tried for embeddings, since vectors from different models are not comparable`;
}
