// Calico's label selectors, as IPPool.nodeSelector and BGPPeer node/peer selectors use them:
// all(), has(k), k == 'v', k != 'v', k in {'a','b'}, k not in {...}, !, &&, || and parentheses.
// A selector that does not parse selects nothing, and the error says where it went wrong.

export type Labels = Readonly<Record<string, string>>;
type Matcher = (labels: Labels) => boolean;

export class SelectorError extends Error {}

const tokenPattern = /\s*(all\(\)|has\(|not in(?![\w./-])|in(?![\w./-])|==|!=|&&|\|\||!|\(|\)|\{|\}|,|'[^']*'|"[^"]*"|[A-Za-z0-9_./-]+)/y;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  tokenPattern.lastIndex = 0;
  let index = 0;
  while (index < text.length) {
    if (/^\s*$/.test(text.slice(index))) break;
    tokenPattern.lastIndex = index;
    const match = tokenPattern.exec(text);
    if (!match) throw new SelectorError(`selector ${JSON.stringify(text)}: cannot read from ${JSON.stringify(text.slice(index))}`);
    tokens.push(match[1]!);
    index = tokenPattern.lastIndex;
  }
  return tokens;
}

const unquote = (token: string) => (/^['"]/.test(token) ? token.slice(1, -1) : token);

/** Compiles a Calico selector; an empty selector selects everything, as Calico's does. */
export function compileSelector(text: string): Matcher {
  const tokens = tokenize(text);
  let at = 0;
  const peek = () => tokens[at];
  const take = (expected?: string) => {
    const token = tokens[at++];
    if (token === undefined || (expected !== undefined && token !== expected)) {
      throw new SelectorError(`selector ${JSON.stringify(text)}: expected ${expected ?? 'more'} at token ${at}, got ${token ?? 'the end'}`);
    }
    return token;
  };
  const or = (): Matcher => {
    let left = and();
    while (peek() === '||') {
      take();
      const a = left;
      const b = and();
      left = (labels) => a(labels) || b(labels);
    }
    return left;
  };
  const and = (): Matcher => {
    let left = unary();
    while (peek() === '&&') {
      take();
      const a = left;
      const b = unary();
      left = (labels) => a(labels) && b(labels);
    }
    return left;
  };
  const unary = (): Matcher => {
    const token = take();
    if (token === '!') {
      const inner = unary();
      return (labels) => !inner(labels);
    }
    if (token === '(') {
      const inner = or();
      take(')');
      return inner;
    }
    if (token === 'all()') return () => true;
    if (token === 'has(') {
      const key = take();
      take(')');
      return (labels) => key in labels;
    }
    const key = token;
    const op = take();
    if (op === '==' || op === '!=') {
      const value = unquote(take());
      return op === '==' ? (labels) => labels[key] === value : (labels) => labels[key] !== value;
    }
    if (op === 'in' || op === 'not in') {
      take('{');
      const values = new Set<string>();
      while (peek() !== '}') {
        values.add(unquote(take()));
        if (peek() === ',') take();
      }
      take('}');
      return op === 'in' ? (labels) => values.has(labels[key] ?? '\u0000') : (labels) => !values.has(labels[key] ?? '\u0000');
    }
    throw new SelectorError(`selector ${JSON.stringify(text)}: unknown operator ${JSON.stringify(op)} after ${JSON.stringify(key)}`);
  };
  if (tokens.length === 0) return () => true;
  const matcher = or();
  if (at !== tokens.length) throw new SelectorError(`selector ${JSON.stringify(text)}: unexpected ${JSON.stringify(tokens[at])}`);
  return matcher;
}

/**
 * Compiled selectors by their text: a BGPPeer's selectors are matched against every node for
 * every node's peerings (a million matches at 1000 nodes), and compiling each time was most of it.
 * Cleared when it grows past 1024 texts (a cluster has a handful).
 */
const compiled = new Map<string, Matcher | undefined>();

/** True when `selector` selects `labels`; a selector that does not parse selects nothing. */
export function selects(selector: string, labels: Labels): boolean {
  let matcher = compiled.get(selector);
  if (matcher === undefined && !compiled.has(selector)) {
    try {
      matcher = compileSelector(selector);
    } catch {
      matcher = undefined;
    }
    if (compiled.size >= 1024) compiled.clear();
    compiled.set(selector, matcher);
  }
  return matcher ? matcher(labels) : false;
}
