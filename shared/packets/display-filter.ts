// The Captures view's display filter: a small Wireshark-like language over a packet's decoded
// fields, compiled once into a predicate. Examples:
//   ipip && ip.dst == 192.168.3.1        vxlan.vni == 4096        tcp.port == 80 || icmp
//   outer.addr == 10.240.1.11            ip.addr == 192.168.0.0/16 && !arp     info contains "GET"
// Field names follow Wireshark's where one exists; "outer.*" are the encapsulating addresses.
import type { PacketRecord } from './packet-record.ts';

export type PacketPredicate = (row: PacketRecord) => boolean;
export type CompiledFilter = { ok: true; test: PacketPredicate } | { ok: false; error: string };

type Token = { kind: 'word' | 'string' | 'op' | 'paren'; text: string; at: number };

const operators = ['==', '!=', '<=', '>=', '<', '>', '&&', '||', '!'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push({ kind: 'paren', text: c, at: i++ });
    } else if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new Error(`a string opened at column ${i + 1} is not closed`);
      tokens.push({ kind: 'string', text: text.slice(i + 1, end), at: i });
      i = end + 1;
    } else {
      const op = operators.find((o) => text.startsWith(o, i));
      if (op) {
        tokens.push({ kind: 'op', text: op, at: i });
        i += op.length;
        continue;
      }
      let j = i;
      while (j < text.length && !' \t()"'.includes(text[j]!) && !operators.some((o) => text.startsWith(o, j))) j++;
      tokens.push({ kind: 'word', text: text.slice(i, j), at: i });
      i = j;
    }
  }
  return tokens;
}

function ipNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

/** A predicate over one address text: equality, or membership for a CIDR value. */
function addressMatcher(value: string): ((address: string | undefined) => boolean) | undefined {
  const [base, bits] = value.split('/');
  const network = ipNumber(base ?? '');
  if (network === undefined) return undefined;
  if (bits === undefined) return (a) => a === value;
  const n = Number(bits);
  if (!Number.isInteger(n) || n < 0 || n > 32) return undefined;
  const size = 2 ** (32 - n);
  const start = Math.floor(network / size) * size;
  return (a) => {
    const x = a === undefined ? undefined : ipNumber(a);
    return x !== undefined && x >= start && x < start + size;
  };
}

const flags: Record<string, PacketPredicate> = {
  ipip: (r) => r.encap === 'IPIP',
  vxlan: (r) => r.encap === 'VXLAN',
  direct: (r) => r.encap === 'direct',
  ip: (r) => r.ipProto !== undefined || r.proto === 'IPv4',
  tcp: (r) => r.ipProto === 6,
  udp: (r) => r.ipProto === 17,
  icmp: (r) => r.ipProto === 1,
  arp: (r) => r.proto === 'ARP',
  ipv6: (r) => r.proto === 'IPv6',
  bgp: (r) => r.app === 'BGP',
  http: (r) => r.app === 'HTTP',
  truncated: (r) => r.mark === 'truncated',
  malformed: (r) => r.mark === 'malformed',
};

type Getter = (r: PacketRecord) => Array<string | number | undefined>;

const addressFields: Record<string, Getter> = {
  'ip.src': (r) => [r.src],
  'ip.dst': (r) => [r.dst],
  'ip.addr': (r) => [r.src, r.dst],
  'outer.src': (r) => [r.outerSrc],
  'outer.dst': (r) => [r.outerDst],
  'outer.addr': (r) => [r.outerSrc, r.outerDst],
};

const numberFields: Record<string, Getter> = {
  'tcp.port': (r) => (r.ipProto === 6 ? [r.sport, r.dport] : []),
  'tcp.srcport': (r) => (r.ipProto === 6 ? [r.sport] : []),
  'tcp.dstport': (r) => (r.ipProto === 6 ? [r.dport] : []),
  'udp.port': (r) => (r.ipProto === 17 ? [r.sport, r.dport] : []),
  'udp.srcport': (r) => (r.ipProto === 17 ? [r.sport] : []),
  'udp.dstport': (r) => (r.ipProto === 17 ? [r.dport] : []),
  port: (r) => [r.sport, r.dport],
  'vxlan.vni': (r) => [r.vni],
  'frame.len': (r) => [r.len],
  'ip.proto': (r) => [r.ipProto],
};

const textFields: Record<string, Getter> = {
  encap: (r) => [r.encap],
  proto: (r) => [r.proto],
  info: (r) => [r.info],
};

export const filterFieldNames = [...Object.keys(flags), ...Object.keys(addressFields), ...Object.keys(numberFields), ...Object.keys(textFields)];

class Parser {
  private i = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private isWord(...words: string[]): boolean {
    const t = this.peek();
    return t !== undefined && ((t.kind === 'op' && words.includes(t.text)) || (t.kind === 'word' && words.includes(t.text.toLowerCase())));
  }

  parse(): PacketPredicate {
    const p = this.or();
    const rest = this.peek();
    if (rest) throw new Error(`unexpected "${rest.text}" at column ${rest.at + 1}`);
    return p;
  }

  private or(): PacketPredicate {
    let left = this.and();
    while (this.isWord('||', 'or')) {
      this.i++;
      const l = left;
      const r = this.and();
      left = (row) => l(row) || r(row);
    }
    return left;
  }

  private and(): PacketPredicate {
    let left = this.not();
    while (this.isWord('&&', 'and')) {
      this.i++;
      const l = left;
      const r = this.not();
      left = (row) => l(row) && r(row);
    }
    return left;
  }

  private not(): PacketPredicate {
    if (this.isWord('!', 'not')) {
      this.i++;
      const inner = this.not();
      return (row) => !inner(row);
    }
    return this.primary();
  }

  private primary(): PacketPredicate {
    const t = this.tokens[this.i++];
    if (!t) throw new Error('the filter ends where a field or ( was expected');
    if (t.kind === 'paren' && t.text === '(') {
      const inner = this.or();
      const close = this.tokens[this.i++];
      if (!close || close.text !== ')') throw new Error(`a ( at column ${t.at + 1} is not closed`);
      return inner;
    }
    if (t.kind !== 'word') throw new Error(`expected a field name at column ${t.at + 1}, found "${t.text}"`);
    const field = t.text.toLowerCase();
    const op = this.peek();
    const comparing = op !== undefined && ((op.kind === 'op' && ['==', '!=', '<', '>', '<=', '>='].includes(op.text)) || (op.kind === 'word' && ['contains', 'eq', 'ne'].includes(op.text.toLowerCase())));
    if (!comparing) {
      const flag = flags[field];
      if (flag) return flag;
      if (addressFields[field] || numberFields[field] || textFields[field]) return (row) => (addressFields[field] ?? numberFields[field] ?? textFields[field])!(row).some((v) => v !== undefined);
      throw new Error(`unknown field "${t.text}"; known: ${filterFieldNames.join(', ')}`);
    }
    this.i++;
    const operator = op.text.toLowerCase() === 'eq' ? '==' : op.text.toLowerCase() === 'ne' ? '!=' : op.text.toLowerCase();
    const valueToken = this.tokens[this.i++];
    if (!valueToken || (valueToken.kind !== 'word' && valueToken.kind !== 'string')) throw new Error(`expected a value after "${op.text}" at column ${op.at + 1}`);
    const value = valueToken.text;
    const any = (get: Getter, test: (v: string | number) => boolean): PacketPredicate =>
      // != means no value equals (Wireshark's !==), so that ip.addr != X drops every packet to or from X.
      operator === '!=' ? (row) => !get(row).some((v) => v !== undefined && test(v)) : (row) => get(row).some((v) => v !== undefined && test(v));
    if (addressFields[field]) {
      const match = addressMatcher(value);
      if (!match || !['==', '!='].includes(operator)) throw new Error(`${field} compares with == or != to an address or CIDR, not "${value}"`);
      return any(addressFields[field], (v) => match(String(v)));
    }
    if (numberFields[field]) {
      const n = Number(value);
      if (!Number.isFinite(n) || operator === 'contains') throw new Error(`${field} compares to a number, not "${value}"`);
      const cmp: Record<string, (a: number) => boolean> = { '==': (a) => a === n, '!=': (a) => a === n, '<': (a) => a < n, '>': (a) => a > n, '<=': (a) => a <= n, '>=': (a) => a >= n };
      return any(numberFields[field], (v) => cmp[operator]!(Number(v)));
    }
    if (textFields[field]) {
      const lower = value.toLowerCase();
      if (operator === 'contains') return any(textFields[field], (v) => String(v).toLowerCase().includes(lower));
      if (operator !== '==' && operator !== '!=') throw new Error(`${field} compares with ==, != or contains`);
      return any(textFields[field], (v) => String(v).toLowerCase() === lower);
    }
    throw new Error(`unknown field "${t.text}"; known: ${filterFieldNames.join(', ')}`);
  }
}

/** Compiles a filter; an empty one matches everything. Errors say where and what was expected. */
export function compileDisplayFilter(text: string): CompiledFilter {
  if (text.trim() === '') return { ok: true, test: () => true };
  try {
    return { ok: true, test: new Parser(tokenize(text)).parse() };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}
