/**
 * A parsed request body as the request log keeps it: JSON, with each long base64 payload (a
 * photo as a data URL in `image_url.url`, `input_audio.data`, a file's `file_data`) replaced
 * by a marker naming its size. The log keeps the first MAX_BODY_CHARS of a body: a photo sent
 * before the question would fill them with base64 and hide the question, and a media string
 * can never be stored whole anyway.
 */

/** Shorter strings are kept as sent: a small icon costs the log little. */
const MEDIA_MIN_CHARS = 1024;
const DATA_URL_HEAD = /^data:[^,]{0,200},/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function elidedMedia(value: string): string | undefined {
  if (value.length < MEDIA_MIN_CHARS) return undefined;
  const head = DATA_URL_HEAD.exec(value)?.[0];
  if (head !== undefined) return `${head}[${value.length - head.length} characters elided]`;
  return BASE64.test(value) ? `[base64, ${value.length} characters elided]` : undefined;
}

export function loggedBodyText(body: unknown): string {
  return JSON.stringify(body, (_key, value: unknown) => (typeof value === "string" ? (elidedMedia(value) ?? value) : value));
}
