/**
 * A validation rule written once for every place that applies it: the processes (JavaScript) and the API
 * server, where the CRD's CEL rules (`self.matches(...)`, RE2) are generated from the same text. The
 * pattern matches what the rule refuses, in the syntax both engines read alike: no look-around or
 * back-references (RE2 has none), no \d or \w shorthands, character ranges by \xNN, and punctuation
 * escaped with a backslash where it could mean something.
 */
export interface Refusal {
  readonly pattern: string;
  /** What the value must be instead, to follow the value's name: "must not contain '..'". */
  readonly problem: string;
  refuses(value: string): boolean;
}

export function refusal(pattern: string, problem: string): Refusal {
  // Unicode mode: code points, as RE2 reads UTF-8, rather than UTF-16 halves.
  const regex = new RegExp(pattern, 'u');
  return { pattern, problem, refuses: (value) => regex.test(value) };
}

/** The problem of the first rule that refuses `value`, or undefined when none does. */
export function problemOf(rules: readonly Refusal[], value: string): string | undefined {
  return rules.find((rule) => rule.refuses(value))?.problem;
}
