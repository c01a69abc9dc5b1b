/** Bash quoting for the rendered scripts. */

/** Single-quotes a word for bash. */
export function shellWord(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
