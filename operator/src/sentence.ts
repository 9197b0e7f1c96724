/** Lists as a sentence writes them, for the messages and descriptions generated from registries. */

/** "a", "a and b", "a, b and c". */
export function listed(values: readonly string[], conjunction: 'and' | 'or' = 'and'): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} ${conjunction} ${values.at(-1)}`;
}

/** "'a'", "'a' and 'b'", "'a', 'b' and 'c'": names as messages quote them. */
export function quotedList(names: readonly string[], conjunction: 'and' | 'or' = 'and'): string {
  return listed(
    names.map((n) => `'${n}'`),
    conjunction,
  );
}
