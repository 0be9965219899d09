/**
 * Byte counts as people read them in messages: the body-limit refusal, the configuration
 * document's size check and the CLI's alike, so one limit reads the same wherever it is
 * named. No zod here: the CLI bundles this module and carries no zod.
 */

const BYTES_PER_MB = 1024 * 1024;

/**
 * `bytes` in MB (MiB, as every limit here is set) to two decimals, trailing zeros dropped:
 * "1 MB", "0.5 MB", "16.06 MB". Two, not one: config.import's limit of 16 MB and 64 KB would
 * read "16.1 MB", more than a body may be.
 */
export const formatMegabytes = (bytes: number): string => `${Number((bytes / BYTES_PER_MB).toFixed(2))} MB`;
