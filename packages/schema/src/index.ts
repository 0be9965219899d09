export * from "./common.ts";
export * from "./auth.ts";
export * from "./users.ts";
export * from "./health.ts";
export * from "./chat.ts";
export * from "./openai.ts";
export * from "./emergency.ts";
export * from "./consensus.ts";
