/**
 * Counts as people read them in messages ("256,000 characters", "and 4,995 more"), so a
 * limit reads the same wherever it is named.
 */

/** `n` with thousands separators, whatever the server's locale: "256,000". */
export const formatCount = (n: number): string => n.toLocaleString("en-US");
