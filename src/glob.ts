/**
 * `*` wildcards in prices-file names (tools, data sources, discount models). Only `*` is special,
 * so a model id with dots or brackets needs no escaping by users.
 */

/** A predicate for a glob pattern; `ignoreCase` for provider and model ids. */
export function globMatcher(pattern: string, ignoreCase = false): (value: string) => boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  if (!p.includes('*')) {
    return ignoreCase ? (v) => v.toLowerCase() === p : (v) => v === p;
  }
  const body = p
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  const re = new RegExp(`^${body}$`, ignoreCase ? 'i' : '');
  return (v) => re.test(v);
}
