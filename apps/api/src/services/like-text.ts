/**
 * Text a Prisma `contains` (or `startsWith`, `endsWith`) finds as it is. Prisma puts the value
 * into a LIKE pattern unescaped, where `%` and `_` match any characters and a backslash escapes
 * the next one: a search for "%" would find every row, and "first_last" "firstXlast" too.
 */
export const likeText = (text: string): string => text.replace(/[\\%_]/g, "\\$&");
