/**
 * The offline responder's knowledge: pure functions from a request to a deterministic reply.
 * It cannot know facts, so it is honest about being the fallback and does what needs no
 * model: greets, structures a question into a plan, sketches code, extracts a summary, and
 * asks the clarifying questions a model would.
 */

const NOTICE = "(Offline fallback: no model provider answered, so this reply comes from Switchboard's built-in templates.)";

const LANGUAGES: Array<{ name: string; fence: string; pattern: RegExp }> = [
  { name: "TypeScript", fence: "ts", pattern: /\b(typescript|ts|tsx|deno)\b/i },
  { name: "JavaScript", fence: "js", pattern: /\b(javascript|js|node(\.js)?|react)\b/i },
  { name: "Python", fence: "python", pattern: /\b(python|py|django|flask|pandas)\b/i },
  { name: "Go", fence: "go", pattern: /\b(go|golang)\b/i },
  { name: "Rust", fence: "rust", pattern: /\brust\b/i },
  { name: "Java", fence: "java", pattern: /\bjava\b/i },
  { name: "SQL", fence: "sql", pattern: /\b(sql|query|postgres(ql)?|mysql|sqlite)\b/i },
  { name: "Bash", fence: "bash", pattern: /\b(bash|shell|sh|zsh)\b/i },
];

const GREETING = /^\s*(hi|hello|hey|hiya|howdy|yo|greetings|good (morning|afternoon|evening)|bonjour|salut|hola|hallo)\b/i;
const THANKS = /\b(thanks|thank you|thx|merci|cheers)\b/i;
const HELP = /^\s*(help|what can you do|who are you|what are you)\b/i;
const CODE = /\b(code|function|script|implement|snippet|program|class|method|regex|algorithm|write (a|an|the|me)?\s*(\w+\s)?(function|script|query|program))\b/i;
const SUMMARY = /\b(summari[sz]e|summary|tl;?dr)\b/i;
const QUESTION_WORD = /^\s*(what|why|how|when|where|who|which|can|could|should|would|is|are|does|do|will)\b/i;

/** The reply to the last user message of a conversation. */
export function templateReply(lastUserMessage: string): string {
  const text = lastUserMessage.trim();
  if (HELP.test(text)) return withNotice(helpReply());
  if (GREETING.test(text) && text.length < 80) return withNotice(greetingReply());
  if (THANKS.test(text) && text.length < 80) return "You're welcome! Ask me anything else; when a model provider is back, it will answer in full.";
  if (CODE.test(text)) return withNotice(codeReply(text));
  if (SUMMARY.test(text) && text.length > 200) return withNotice(summaryReply(text));
  if (text.endsWith("?") || QUESTION_WORD.test(text)) return withNotice(questionReply(text));
  return withNotice(defaultReply(text));
}

/** 1–3 clarifying questions for a request, as chat.clarify's template fallback. */
export function templateClarifyingQuestions(request: string): string[] {
  const text = request.trim();
  const questions: string[] = [];
  if (CODE.test(text)) {
    if (!LANGUAGES.some((l) => l.pattern.test(text))) questions.push("Which programming language and runtime should the code target?");
    questions.push("What are the inputs and the expected output, ideally with one example?");
    questions.push("Are there constraints to respect (performance, dependencies, error handling, tests)?");
  } else {
    questions.push(`What is the end goal behind "${topicOf(text)}", and who is the answer for?`);
    questions.push("What have you already tried or ruled out?");
    questions.push("Are there constraints on the answer: length, format, deadline or tools?");
  }
  return questions.slice(0, 3);
}

function withNotice(body: string): string {
  return `${body}\n\n${NOTICE}`;
}

function helpReply(): string {
  return [
    "I'm Switchboard's offline responder, the last link of the provider fallback chain. Without a model I can still:",
    "",
    "- turn a question into a plan of steps to research or try,",
    "- sketch a code skeleton in the language you name,",
    "- pull the key sentences out of a text you paste with \"summarize\",",
    "- ask the clarifying questions that make a request easier to answer.",
    "",
    "Configure a provider (BETA_MODEL_BASE_URL, DEEPSEEK_API_KEY, OPENAI_API_KEY or OLLAMA_BASE_URL) for full answers.",
  ].join("\n");
}

function greetingReply(): string {
  return "Hello! I'm Switchboard's offline responder. No model provider is answering right now, but I can help structure a question, sketch code or summarise a text you paste. What are you working on?";
}

function codeReply(text: string): string {
  const language = LANGUAGES.find((l) => l.pattern.test(text)) ?? LANGUAGES[0]!;
  const name = identifierOf(text);
  return [
    `Here is a ${language.name} skeleton for "${topicOf(text)}" to fill in; a model provider would write the body.`,
    "",
    "```" + language.fence,
    skeleton(language.fence, name),
    "```",
    "",
    "Next steps:",
    "1. Pin down the inputs and the expected output with one concrete example.",
    "2. Write that example as a test first, then make it pass.",
    "3. Handle the empty and invalid inputs explicitly.",
  ].join("\n");
}

function skeleton(fence: string, name: string): string {
  switch (fence) {
    case "python":
      return `def ${snake(name)}(data):\n    """TODO: describe what this returns."""\n    raise NotImplementedError("${snake(name)}")`;
    case "go":
      return `func ${name[0]!.toUpperCase()}${name.slice(1)}(input string) (string, error) {\n\t// TODO: implement\n\treturn "", errors.New("not implemented")\n}`;
    case "rust":
      return `pub fn ${snake(name)}(input: &str) -> Result<String, String> {\n    // TODO: implement\n    Err("not implemented".into())\n}`;
    case "java":
      return `public static String ${name}(String input) {\n    // TODO: implement\n    throw new UnsupportedOperationException("${name}");\n}`;
    case "sql":
      return "SELECT column_a, column_b\nFROM table_name\nWHERE condition -- TODO: refine\nORDER BY column_a;";
    case "bash":
      return `#!/usr/bin/env bash\nset -euo pipefail\n\n${snake(name)}() {\n  # TODO: implement\n  echo "not implemented" >&2\n  return 1\n}\n\n${snake(name)} "$@"`;
    case "js":
      return `export function ${name}(input) {\n  // TODO: implement\n  throw new Error("${name}: not implemented");\n}`;
    default:
      return `export function ${name}(input: string): string {\n  // TODO: implement\n  throw new Error("${name}: not implemented");\n}`;
  }
}

function questionReply(text: string): string {
  const word = QUESTION_WORD.exec(text)?.[1]?.toLowerCase();
  const topic = topicOf(text);
  const plan =
    word === "how"
      ? ["State the starting point and the result you want.", "Break the path into the smallest steps you can check one by one.", "Try the first step and note what changed."]
      : word === "why"
        ? ["List the candidate causes you can think of.", "For each, name the evidence that would confirm or rule it out.", "Check the cheapest evidence first."]
        : word === "should" || word === "would" || word === "could"
          ? ["Write down the options, including doing nothing.", "Score each on cost, risk and what it makes possible later.", "Decide what new information would change your choice."]
          : ["Define the key terms of the question precisely.", "Look for a primary source (official documentation, the original paper or data).", "Cross-check with a second independent source."];
  return [
    `You asked: "${topic}". I can't look facts up offline, so here is how to get a reliable answer:`,
    "",
    ...plan.map((step, i) => `${i + 1}. ${step}`),
    "",
    "Send the question again once a model provider is back for a direct answer.",
  ].join("\n");
}

function summaryReply(text: string): string {
  const body = text.replace(SUMMARY, "").replace(/^[\s:,-]+/, "");
  const sentences = body.match(/[^.!?\n]+[.!?]+/g)?.map((s) => s.trim()) ?? [body.slice(0, 200)];
  const picked = sentences.slice(0, 3);
  return ["Extractive summary (the opening sentences; a model would paraphrase):", "", ...picked.map((s) => `- ${s}`)].join("\n");
}

function defaultReply(text: string): string {
  return [
    `Noted: "${topicOf(text)}".`,
    "",
    "I'm the offline fallback, so I can't write a full answer, but I can help you shape the request: say what outcome you want, the constraints that matter, and one example. Ask \"help\" to see what I can do offline.",
  ].join("\n");
}

/** The request in at most twelve words, for quoting back. */
function topicOf(text: string): string {
  const words = text.replace(/\s+/g, " ").replace(/[?!.]+$/, "").split(" ");
  return words.length > 12 ? `${words.slice(0, 12).join(" ")}…` : words.join(" ");
}

/** A camelCase identifier from the words after "that"/"to"/"which", e.g. "parse dates" → parseDates. */
function identifierOf(text: string): string {
  const tail = /\b(?:that|to|which|for)\s+(.+)$/i.exec(text)?.[1] ?? "solve";
  const words =
    tail
      .toLowerCase()
      .match(/[a-z]+/g)
      ?.filter((w) => !STOP_WORDS.has(w) && !LANGUAGES.some((l) => l.pattern.test(w))) ?? [];
  const picked = words.slice(0, 3);
  if (picked.length === 0) return "solve";
  return picked.map((w, i) => (i === 0 ? w : w[0]!.toUpperCase() + w.slice(1))).join("");
}

const STOP_WORDS = new Set(["a", "an", "the", "in", "using", "with", "and", "of", "code", "function", "script"]);

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
