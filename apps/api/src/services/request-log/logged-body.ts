/**
 * A parsed request body as the request log keeps it: JSON, with each long base64 payload (a
 * photo as a data URL in `image_url.url`, `input_audio.data`, a file's `file_data`) replaced
 * by a marker naming its size. The log keeps the first MAX_BODY_CHARS of a body: a photo sent
 * before the question would fill them with base64 and hide the question, and a media string
 * can never be stored whole anyway.
 */

/** Shorter strings are kept as sent: a small icon costs the log little. */
const MEDIA_MIN_CHARS = 1024;
/** Where media sits in OpenAI's request shapes: `image_url.url`, Responses' `input_image.image_url`, `input_audio.data`, `file.file_data`. */
const URL_KEYS = new Set(["url", "image_url"]);
const PAYLOAD_KEYS = new Set(["data", "file_data"]);
const BASE64_DATA_URL_HEAD = /^data:[^,;]{0,200};base64,/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * A media payload's marker, or undefined to keep the value. Only base64 at a media key is
 * elided: a prompt, wherever it is and whatever it looks like, is kept (the log is where an
 * operator looks for what was asked).
 */
function elidedMedia(key: string, value: string): string | undefined {
  if (value.length < MEDIA_MIN_CHARS || !(URL_KEYS.has(key) || PAYLOAD_KEYS.has(key))) return undefined;
  const head = BASE64_DATA_URL_HEAD.exec(value)?.[0];
  if (head !== undefined) return `${head}[${value.length - head.length} characters elided]`;
  return PAYLOAD_KEYS.has(key) && BASE64.test(value) ? `[base64, ${value.length} characters elided]` : undefined;
}

export function loggedBodyText(body: unknown): string {
  return JSON.stringify(body, (key, value: unknown) => (typeof value === "string" ? (elidedMedia(key, value) ?? value) : value));
}
