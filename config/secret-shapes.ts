/**
 * What a secret looks like, by a variable's name and by a value's shape: one definition for the
 * config validator (secrets belong in `secretEnv`, read from Secret Manager at boot) and the
 * policy pack's rule on what VMs get in their metadata. Pure.
 */

/** DB_PWD, *_PWD, *PASS*, *_KEY, *TOKEN*, *SECRET*, and the same words in lower case. */
export function isSecretName(name: string): boolean {
  return /(^|_)PWD$|PASS|(^|_)KEY$|TOKEN|SECRET/.test(name.toUpperCase());
}

const secretShapes: [string, RegExp][] = [
  ["a private key", /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ["a JSON Web Token", /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/],
  ["a Google API key", /^AIza[0-9A-Za-z_-]{35}$/],
  ["an AWS access key id", /^(AKIA|ASIA)[0-9A-Z]{16}$/],
  ["a GitHub token", /^gh[pousr]_[A-Za-z0-9]{30,}$/],
  ["a Slack token", /^xox[abpors]-[A-Za-z0-9-]{10,}$/],
  ["a URL with a password", /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@/i],
];

/**
 * What kind of secret `value` looks like, or undefined. Besides the known formats: a long run of
 * letters and digits of both cases (20 or more, as generated passwords and keys are), which names,
 * paths, URLs and hostnames are not.
 */
export function secretShape(value: string): string | undefined {
  const known = secretShapes.find(([, pattern]) => pattern.test(value));
  if (known) return known[0];
  if (/^[A-Za-z0-9+/=_-]{20,}$/.test(value) && /[a-z]/.test(value) && /[A-Z]/.test(value) && /[0-9]/.test(value)) {
    return "a generated password or key";
  }
  return undefined;
}
