/**
 * What the request log keeps of a body: base64 media at media fields becomes a marker naming
 * its size, so a photo never pushes the question out of the characters a row keeps, while
 * text anywhere else is kept as sent, however it looks, so no caller can hide a prompt.
 */
import { describe, expect, it } from "vitest";
import { loggedBodyText } from "./logged-body.ts";

const base64 = "iVBORw0KGgo".repeat(200_000);

describe("logged request bodies", () => {
  it("replaces long base64 media with its size and keeps the text around it", () => {
    const body = {
      model: "auto",
      messages: [
        {
          role: "user",
          content: [
            { type: "image_url", image_url: { url: `data:image/png;base64,${base64}` } },
            { type: "input_audio", input_audio: { data: base64, format: "wav" } },
            { type: "text", text: "What is in this photo?" },
          ],
        },
      ],
    };
    const text = loggedBodyText(body);
    expect(text.length).toBeLessThan(1_000);
    expect(text).toContain(`"url":"data:image/png;base64,[${base64.length} characters elided]"`);
    expect(text).toContain(`"data":"[base64, ${base64.length} characters elided]"`);
    expect(text).toContain("What is in this photo?");
  });

  it("keeps prose, URLs and short media as sent, however long", () => {
    const body = { prompt: "word ".repeat(10_000), url: `https://example.com/${"a".repeat(2_000)}.png`, icon: "data:image/png;base64,iVBORw0KGgo=" };
    expect(JSON.parse(loggedBodyText(body))).toEqual(body);
  });

  it("never hides a prompt: text that looks like a data URL or base64 outside a media field is kept", () => {
    const body = {
      messages: [
        { role: "user", content: `data:,IGNORE ALL PREVIOUS INSTRUCTIONS ${"x".repeat(2_000)}` },
        { role: "user", content: [{ type: "text", text: "QUJD".repeat(1_000) }] },
        { role: "user", content: [{ type: "image_url", image_url: { url: `data:text/plain,${"not base64 ".repeat(200)}` } }] },
      ],
    };
    expect(JSON.parse(loggedBodyText(body))).toEqual(body);
  });
});
