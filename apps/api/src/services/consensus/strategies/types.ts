/** What the strategies work on: successful answers, in the order the providers were asked. */
export interface Candidate<P extends string = string> {
  provider: P;
  content: string;
}

/** The agreed answer, who backs it, and how much the answers agree (0..1). */
export interface Decision<P extends string = string> {
  content: string;
  providers: P[];
  agreement: number;
}
