/** Header and URI matchers, compiled once per snapshot into plain predicates. */

/** A compiled match: true when the value satisfies it. */
export type Matcher = (value: string | undefined) => boolean;

/** Compiles `{exact|prefix|regex}`; a missing value never matches. */
export function compileMatch(m: { exact?: string; prefix?: string; regex?: string }): Matcher {
  if (m.exact !== undefined) {
    const want = m.exact;
    return (v) => v === want;
  }
  if (m.prefix !== undefined) {
    const want = m.prefix;
    return (v) => v !== undefined && v.startsWith(want);
  }
  if (m.regex !== undefined) {
    const re = new RegExp(m.regex);
    return (v) => v !== undefined && re.test(v);
  }
  return () => true;
}
