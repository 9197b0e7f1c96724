/**
 * A commit's author as users write it: `Name <email>`, as git prints an identity. The name and the email
 * hold no '<', '>', newline or NUL (git would strip them silently; we refuse them), the name is not
 * blank, the email has an '@' and no whitespace. One pattern for the CRD (generated from it), the
 * operator's --default-author and spec.commit.author, and the sidecar, which checks the name and email
 * it is sent as this same text.
 */
const nameChar = '[^<>\\n\\x00]';
const word = '[^<>\\s\\x00]';
export const authorPattern = `^(${nameChar}*${word})\\s*<(${word}+@${word}+)>$`;
const author = new RegExp(authorPattern, 'u');

export interface Author {
  name: string;
  email: string;
}

/** `Name <email>` as its parts, or undefined when it is not one. Surrounding whitespace is ignored. */
export function parseAuthor(text: string): Author | undefined {
  const m = author.exec(text.trim());
  return m ? { name: m[1] as string, email: m[2] as string } : undefined;
}

/** Why a name and an email are no author, or undefined when they are one. */
export function authorProblem({ name, email }: Author): string | undefined {
  if (!name.trim() || !email.trim()) return 'author name and email are required';
  const parsed = parseAuthor(`${name} <${email}>`);
  if (parsed?.name !== name.trim() || parsed.email !== email) {
    return "author must be 'Name <email>': no '<', '>', newlines or NUL in either, an email with '@' and no spaces";
  }
  return undefined;
}
