/**
 * eBPF assembly highlighting for CodeMirror 6: a stream tokenizer for both
 * dialects src/isa/asm.ts reads, the kernel verifier log's
 * (`r0 = *(u16 *)skb[12]`, `if r0 != 0x800 goto pc+14`, `call 1`) and
 * bpf_conformance's (`mov %r0, 1`, `ldxw %r0, [%r1+4]`, `jeq %r1, 0xb, exit`),
 * and for classic `tcpdump -dd` text and filter expressions (numbers,
 * keywords, comments). Highlighting only: the assembler is the judge of
 * what is valid.
 */
import { StreamLanguage, HighlightStyle, syntaxHighlighting } from '@codemirror/language';
import type { StringStream } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';

/** Keywords of the kernel syntax and pcap-filter(7). */
const KEYWORDS = new Set([
  'if', 'goto', 'call', 'callx', 'exit', 'lock', 'fetch', 'll', 'skb', 'pc', 'gotol', 'may_goto',
  'be16', 'be32', 'be64', 'le16', 'le32', 'le64', 'bswap16', 'bswap32', 'bswap64', 'atomic_fetch_add', 'atomic_xchg', 'atomic_cmpxchg',
  'host', 'net', 'port', 'portrange', 'src', 'dst', 'ether', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'icmp', 'icmp6',
  'and', 'or', 'not', 'vlan', 'mpls', 'proto', 'less', 'greater', 'len', 'broadcast', 'multicast', 'tcpflags', 'icmptype',
]);

/** Mnemonics of the conformance dialect (with their 32-bit and size suffixes handled by the regexp below). */
const MNEMONIC = /^(mov|add|sub|mul|div|sdiv|mod|smod|or|and|xor|lsh|rsh|arsh|neg|le|be|ldx|stx|st|ld|lddw|ja|jeq|jne|jgt|jge|jlt|jle|jset|jsgt|jsge|jslt|jsle|ldabs|ldind|movsx|ldxs|call|exit|xchg|cmpxchg)(32|64)?(b|h|w|dw|8|16|32)?$/;

const TYPES = /^(u8|u16|u32|u64|s8|s16|s32|s64)$/;

interface State {
  /** at the start of a line (a label or the log's `N:` index may come) */
  sol: boolean;
}

function token(stream: StringStream, state: State): string | null {
  if (stream.sol()) state.sol = true;
  if (stream.eatSpace()) return null;
  const sol = state.sol;
  state.sol = false;
  // comments: `#` (not bpftool's `name#N`), `;`, `//`
  if (stream.match('//') || stream.match(';') || (stream.peek() === '#' && !/\w/.test(stream.string.charAt(stream.pos - 1)))) {
    stream.skipToEnd();
    return 'comment';
  }
  if (sol && stream.match(/^[A-Za-z_.][\w.]*:\s*$/)) return 'labelName';
  if (sol && stream.match(/^\d+:/)) return 'meta';
  if (stream.match(/^\([0-9a-fA-F]{2}\)/)) return 'meta';
  if (stream.match(/^%?[rw](10|[0-9])\b/)) return 'variableName';
  if (stream.match(/^-?0x[0-9a-fA-F]+/) || stream.match(/^-?\d+/)) return 'number';
  if (stream.match(/^[+-]?pc[+-]\d+/)) return 'labelName';
  if (stream.match(/^[A-Za-z_][\w]*(#-?\d+)?/)) {
    const word = stream.current().replace(/#.*$/, '');
    if (TYPES.test(word)) return 'typeName';
    if (KEYWORDS.has(word)) return 'keyword';
    if (MNEMONIC.test(word)) return 'keyword';
    if (/^bpf_/.test(word)) return 'function';
    return 'name';
  }
  if (stream.match(/^(<<=|>>=|s>>=|s>=|s<=|s>|s<|[-+*/%&|^]=|==|!=|>=|<=|&&|\|\||[<>=!&|^~])/)) return 'operator';
  if (stream.match(/^[{}[\](),:]/)) return 'punctuation';
  stream.next();
  return null;
}

/** The language: StreamLanguage over the tokenizer above. */
export const ebpfAsm = StreamLanguage.define<State>({
  name: 'ebpf-asm',
  startState: () => ({ sol: true }),
  token,
  languageData: { commentTokens: { line: '#' } },
});

/** Colours per token kind, for both themes (CSS variables would not reach CodeMirror's generated classes). */
export const asmHighlight = syntaxHighlighting(HighlightStyle.define([
  { tag: t.comment, color: '#7a8793', fontStyle: 'italic' },
  { tag: t.keyword, color: '#a626a4' },
  { tag: t.variableName, color: '#0f7fa6', fontWeight: '600' },
  { tag: t.number, color: '#c1632b' },
  { tag: t.labelName, color: '#2e8b57' },
  { tag: t.meta, color: '#7a8793' },
  { tag: t.typeName, color: '#b58900' },
  { tag: t.function(t.variableName), color: '#3569d1' },
  { tag: t.operator, color: '#8a6d3b' },
]));
