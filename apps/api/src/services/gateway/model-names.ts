/**
 * Provider names and model route names share one namespace: a client sends either as
 * `model`, and /v1/models lists both (a provider as `name` and `name/model`). A route named
 * like a provider, or like `provider/anything`, would be listed twice and would take that
 * provider's pinning away from clients without a word; so would a provider named like a
 * route. The store asks these inside each change's transaction, after the version row is
 * locked, so two instances changing the configuration at once cannot both pass.
 */
import { AUTO_MODEL } from "@switchboard/schema";

/** Model names that mean "the whole fallback chain" (the `auto` route). */
export const AUTO_MODEL_NAMES = [AUTO_MODEL, "switchboard"] as const;

const isAutoName = (name: string) => (AUTO_MODEL_NAMES as readonly string[]).includes(name);

/** The provider `name/…` pins, when `name` has a slash after its first character. */
const prefixOf = (name: string): string | null => {
  const slash = name.indexOf("/");
  return slash > 0 ? name.slice(0, slash) : null;
};

/** Why a model route may not be called `name`, given the providers' names; null when it may. */
export function routeNameClash(name: string, providers: ReadonlySet<string>): string | null {
  // `auto` itself is the default route, editable; its other spelling would be a second one.
  if (name !== AUTO_MODEL && isAutoName(name)) return `The name '${name}' is another name for '${AUTO_MODEL}'; edit '${AUTO_MODEL}' or choose another`;
  if (providers.has(name)) return `The name '${name}' is a provider's; choose another`;
  const prefix = prefixOf(name);
  if (prefix !== null && providers.has(prefix)) return `The name '${name}' names a model of the provider '${prefix}'; choose another`;
  return null;
}

/** Why a provider may not be called `name`, given the model routes' names; null when it may. */
export function providerNameClash(name: string, routes: readonly string[]): string | null {
  if (isAutoName(name)) return `The name '${name}' is the default model's; choose another`;
  if (routes.includes(name)) return `The name '${name}' is a model route's; choose another`;
  const shadowed = routes.find((route) => prefixOf(route) === name);
  if (shadowed) return `The model route '${shadowed}' would read as a model of a provider named '${name}'; choose another name`;
  return null;
}
