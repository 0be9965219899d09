/**
 * When a request-log row's model counts as the model of its usage: a model answered it (any
 * status under 400, or 499: the client left, not the model), or it was billed (a stream cut
 * after its first tokens). A refused request may carry any name its caller made up, so it has
 * no model in usage reports. One condition for usage.summary over kept rows
 * (logs-service.ts) and for the rollup of pruned ones (log-writer.ts), so a summary reads the
 * same after a prune.
 */
export const MODEL_ANSWERED_SQL = `("status" < 400 OR "status" = 499 OR "costUsd" > 0)`;
