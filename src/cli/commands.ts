/**
 * What each `tsbpf` command accepts, as data: its synopsis, arguments,
 * options, an example (args.ts parses against these and prints them as
 * `tsbpf CMD --help`). docs/cli.md is the long form of the same; keep the two
 * in step. The overview `tsbpf --help` is USAGE.
 */

import type { CommandSpec, OptionSpec } from './args.js';

const PROG_ARG: [string, string] = [
  'PROG',
  'the program, its format detected from its content: assembly (kernel verifier-log\n' +
  'syntax or the bpf_conformance dialect), a JSON program spec ({"insns": [...]}),\n' +
  'a clang -target bpf object, classic BPF as printed by tcpdump -dd or -ddd, or raw\n' +
  "8-byte instruction slots. '-' reads standard input. An argument that is not a file\n" +
  "is a tcpdump expression (pcap-filter(7): 'tcp port 80'), compiled as tsbpf compile\n" +
  'does and run as the eBPF socket filter it compiles to.',
];
/** run, verify, disasm: the program as an expression */
const EXPRESSION: OptionSpec = { name: 'expression', short: 'e', value: 'EXPR', help: "PROG is this pcap-filter expression (tcpdump's language), even if a file of\nthat name exists" };
const LINKTYPE: OptionSpec = {
  name: 'linktype',
  value: 'NAME',
  help: "the link type an expression is compiled for: ethernet (the default), raw, ipv4,\nipv6, linux_sll, linux_sll2, null, loop or a LINKTYPE number",
};

const SECTION: OptionSpec = { name: 'section', value: 'NAME', help: 'the program of an object to use (section or function name)' };
const CBPF: OptionSpec = { name: 'cbpf', help: 'PROG is raw classic BPF (struct sock_filter bytes)' };
const ENGINE: OptionSpec = {
  name: 'engine',
  value: 'NAME',
  help: 'jit (the default for verified programs), interpreter, or jit-hardened\n(the JIT checking every access, for untrusted programs)',
};
const UNVERIFIED: OptionSpec = { name: 'unverified', help: 'skip the verifier; run in the checked interpreter' };
const PROFILE: OptionSpec = {
  name: 'profile',
  value: '3.19|modern',
  help: 'the kernel modelled; by default modern when the program needs it (an xdp, tc or\nclassifier section, a map type 3.19 lacks), else 3.19',
};
const CPUS: OptionSpec = { name: 'cpus', value: 'N', help: 'simulated CPUs: per-CPU maps hold N values (default 1)' };
const SOURCE: OptionSpec = {
  name: 'source',
  help: "the C source line above the instructions it produced in the verifier's log (an\nobject compiled with -g); the modern profile always shows them, 3.19 only with this",
};
/** batch and shell: the maps' kernel, for the whole session */
const MAP_PROFILE: OptionSpec = {
  name: 'profile',
  value: '3.19|modern',
  help: "the kernel modelled (default 3.19): modern has 6.18's map types and map flags",
};
const SET: OptionSpec = {
  name: 'set',
  value: 'NAME=VALUE',
  repeatable: true,
  help: "an object's variable (.rodata, .data, .bss) set before load, as many times as\nneeded: a number (decimal or 0x hex), true/false, an enum's name, a string for a\nchar array, JSON for a struct or array (tsbpf inspect lists them)",
};
const WORKERS: OptionSpec = {
  name: 'workers',
  value: 'N',
  help: 'run the capture on N worker threads sharing the maps (1-256; default: every core\nfor a capture of 64 MiB or more, else 1); worker i runs on CPU i, so --cpus is\nat least N. Programs with maps other than (percpu_)array and (lru_)(percpu_)hash, and\n--unverified ones, run on one thread',
};
const STEER: OptionSpec = {
  name: 'steer',
  value: 'flow|chunk',
  help: "how the workers share the packets (default chunk): chunk, 4096 packets at a time\nto whichever worker is free; flow, each flow's packets (its 5-tuple, both\ndirections) on one worker in capture order, as a NIC's RSS",
};
const BUDGET: OptionSpec = { name: 'budget', value: 'N', help: 'instructions allowed per run with --unverified (default 1000000)' };

export const RUN: CommandSpec = {
  name: 'run',
  usage: [
    'run PROG [--data HEX | --data-file FILE | --pcap CAPTURE] [--repeat N] [--json]',
    'run PROG --mem HEX | --mem-file FILE [--unverified] [--json]',
    "run 'EXPR' | -e EXPR [--linktype NAME] ...",
  ],
  summary:
    'Load PROG (its maps created, verified unless --unverified) and run it: once, N times\n' +
    'with --repeat, or once per packet of a capture with --pcap, the maps carried over.\n' +
    'Prints r0, the time per run and every map.',
  args: [PROG_ARG],
  positionals: [0, 1],
  options: [
    { name: 'data', value: 'HEX', help: "the packet of a socket filter, or the unspec program's 16-byte context" },
    { name: 'data-file', value: 'FILE', help: "the same, from a file ('-': standard input)" },
    { name: 'pcap', value: 'CAPTURE', help: "run once per packet of a pcap or pcapng capture ('-': standard input)" },
    { name: 'mem', value: 'HEX', help: "run as tsbpf's mem type: r1 = this buffer, r2 = its length (uBPF,\nbpf_conformance); verified for exactly this length, or --unverified" },
    { name: 'mem-file', value: 'FILE', help: "the same, the buffer from a file ('-': standard input)" },
    { name: 'link', value: 'TYPE', help: 'where --data\'s network header is, for SKF_NET_OFF loads: ethernet\n(the default: at offset 14) or raw (at offset 0, the packet starts with IP)' },
    { name: 'repeat', value: 'N', help: 'run N times and report the mean time per run' },
    { name: 'retvals', help: "with --pcap: every packet's return value, and for XDP and tc the frames\nthe program changed (in --json: `retvals` and `frames`)" },
    { ...WORKERS, help: `with --pcap: ${WORKERS.help}` },
    { ...STEER, help: `with --pcap: ${STEER.help}` },
    PROFILE,
    CPUS,
    UNVERIFIED,
    BUDGET,
    ENGINE,
    SECTION,
    CBPF,
    SOURCE,
    SET,
    EXPRESSION,
    { ...LINKTYPE, help: `${LINKTYPE.help}\n(with --pcap: the capture's own; with --link raw: raw)` },
    { name: 'json', help: 'one JSON object on stdout' },
  ],
  examples: [
    'run examples/syn-filter.s --data-file examples/tcp-syn.bin',
    "run 'tcp port 80' --pcap examples/sample.pcap",
    'run examples/proto-count.o --pcap examples/sample.pcap',
    "run - --mem 0102032a <<< $'r0 = *(u8 *)(r1 +3)\\nexit'",
    'run examples/syn-filter.s --data-file examples/tcp-syn.bin --link ethernet',
  ],
};

export const FILTER: CommandSpec = {
  name: 'filter',
  usage: ['filter PROG CAPTURE [-w OUT.pcap] [--count] [--json]', "filter 'EXPR' CAPTURE [-w OUT.pcap] [--count] [--json]", 'filter -e EXPR CAPTURE ...'],
  summary:
    'tcpdump -r with an eBPF or classic filter, or a tcpdump expression: run PROG over\n' +
    'each packet of CAPTURE (pcap or pcapng) and print the accepted ones, one tcpdump -nn\n' +
    'line each, or write them to OUT.pcap truncated to the length the filter returned,\n' +
    'as a socket would. A first argument that is not a file is a pcap-filter expression,\n' +
    "compiled for the capture's link type (tsbpf compile shows the program).\n" +
    'A throughput line goes to stderr.',
  args: [PROG_ARG, ['CAPTURE', "the capture to read; '-' reads standard input as it arrives"]],
  positionals: [1, 2],
  options: [
    { name: 'expression', short: 'e', value: 'EXPR', help: 'the filter is this pcap-filter expression (tcpdump\'s language), even if a\nfile of that name exists' },
    { name: 'linktype', value: 'NAME', help: "with an expression on standard input: the capture's link type (default ethernet)" },
    { name: 'write', short: 'w', value: 'OUT', help: "write the accepted packets as pcap ('-': standard output)" },
    { name: 'line-buffered', short: 'l', help: "print each packet's line as soon as it is decided (tcpdump -l);\nfrom a pipe, packets are printed as they arrive in any case" },
    { name: 'count', help: 'print only the number of accepted packets' },
    { name: 'json', help: 'one JSON object per accepted packet (with --count: one object in all)' },
    WORKERS,
    STEER,
    PROFILE,
    CPUS,
    UNVERIFIED,
    BUDGET,
    ENGINE,
    SECTION,
    CBPF,
    SOURCE,
    SET,
  ],
  examples: [
    'filter examples/syn-filter.s examples/sample.pcap',
    'filter examples/syn-filter.o examples/sample.pcap -w syn.pcap',
    "filter 'tcp[tcpflags] & tcp-syn != 0' examples/sample.pcap",
    'filter examples/syn-filter.s - < examples/sample.pcap',
  ],
  notes: 'A live capture, each packet printed as it arrives: tcpdump -U -w - | tsbpf filter F -',
};

export const COMPILE: CommandSpec = {
  name: 'compile',
  usage: ['compile EXPR [--linktype NAME] [-d | -dd | -ddd | --ebpf]'],
  summary:
    "Compile a tcpdump expression (pcap-filter(7)) to classic BPF with libpcap's meaning,\n" +
    'and print it as tcpdump -d (the default), -dd or -ddd would, or the eBPF it runs as.',
  args: [['EXPR', "the expression (quote it: 'tcp port 80 and host 10.0.0.1')"]],
  positionals: [1, 1],
  options: [
    { name: 'linktype', value: 'NAME', help: 'ethernet (the default), raw, ipv4, ipv6, linux_sll, linux_sll2, null or loop;\nor a LINKTYPE number' },
    { name: 'format', value: 'd|dd|ddd|ebpf', help: 'the output: -d (the default), -dd, -ddd as tcpdump prints them, or --ebpf' },
    { name: 'ebpf', help: 'print the eBPF socket filter the expression compiles to, the program filter\nruns (the same as --format ebpf)' },
  ],
  examples: ["compile 'tcp port 80'", "compile 'ip6 and udp port 53' -dd", "compile 'host 10.0.0.1' --linktype raw"],
  notes: '-d, -dd and -ddd are accepted as tcpdump spells them.',
};

export const VERIFY: CommandSpec = {
  name: 'verify',
  usage: ['verify PROG [--log-level 0|1|2] [--json]', "verify 'EXPR' | -e EXPR [--linktype NAME] ..."],
  summary: "Load PROG through the 3.19 verifier and print its log and verdict.\nExit 0 when accepted, 1 when rejected.",
  args: [PROG_ARG],
  positionals: [0, 1],
  options: [
    { name: 'log-level', value: 'L', help: 'the verifier log level: 0, 1 (the default) or 2' },
    { name: 'json', help: 'one JSON object on stdout: {"accepted", "code", "log"}' },
    PROFILE,
    SECTION,
    CBPF,
    SOURCE,
    SET,
    EXPRESSION,
    LINKTYPE,
  ],
  examples: ['verify examples/syn-filter.o --log-level 2', 'verify examples/modern.o --source', "verify 'ip6 and udp port 53'"],
};

export const DISASM: CommandSpec = {
  name: 'disasm',
  usage: ['disasm PROG [--section NAME] [--json]', "disasm 'EXPR' | -e EXPR [--linktype NAME] [--json]"],
  summary:
    "Disassemble PROG in the kernel's verifier-log syntax, one instruction per line.\n" +
    'Every program of an object unless --section picks one; classic BPF is shown as\n' +
    'tcpdump -d prints it, then the eBPF it converts to (an expression: its classic\n' +
    'program, then the eBPF it compiles to).',
  args: [PROG_ARG],
  positionals: [0, 1],
  options: [
    { name: 'json', help: 'one JSON object on stdout: each instruction with its pc, opcode, bytes and text' },
    SECTION,
    CBPF,
    EXPRESSION,
    LINKTYPE,
  ],
  examples: ['disasm examples/syn-filter.o', 'disasm examples/flow-table.o --json', "disasm 'tcp port 80' --linktype raw"],
};

export const ASM: CommandSpec = {
  name: 'asm',
  usage: ['asm FILE [-o OUT]'],
  summary:
    'Assemble FILE (kernel verifier-log syntax or the bpf_conformance dialect) to raw\n' +
    'little-endian 8-byte instruction slots; on a terminal, shown one slot per line in hex.',
  args: [['FILE', "the assembly; '-' reads standard input"]],
  positionals: [1, 1],
  options: [{ name: 'output', short: 'o', value: 'OUT', help: "write the slots to OUT instead of standard output ('-': standard output)" }],
  examples: ['asm examples/syn-filter.s -o syn-filter.bin'],
};

export const INSPECT: CommandSpec = {
  name: 'inspect',
  usage: ['inspect FILE.o [--json]'],
  summary:
    'The license, programs, maps, variables and sections of a clang -target bpf object;\n' +
    'each variable of its global data with its section, offset, C type and initial value.',
  args: [['FILE.o', "the object; '-' reads standard input"]],
  positionals: [1, 1],
  options: [{ name: 'json', help: 'one JSON object on stdout' }],
  examples: ['inspect examples/flow-table.o'],
};

export const BATCH: CommandSpec = {
  name: 'batch',
  usage: ['batch FILE [--json] [--profile 3.19|modern] [--cpus N]'],
  summary:
    "bpftool's map commands, one per line, run in one process so maps live from line\n" +
    "to line; '#' starts a comment. A failing line does not stop the batch (exit 1 at the end).",
  args: [['FILE', "the script; '-' reads standard input"]],
  positionals: [1, 1],
  options: [{ name: 'json', help: 'one JSON object per command line' }, MAP_PROFILE, CPUS],
  examples: ['batch examples/script.txt'],
  notes: 'Commands: map create|update|lookup|getnext|delete|dump|show|push|pop|peek|enqueue|dequeue;\nrun `tsbpf shell` and type help.',
};

export const SHELL: CommandSpec = {
  name: 'shell',
  usage: ['shell [--profile 3.19|modern] [--cpus N]'],
  summary: "The batch commands, interactive: bpftool's map commands at a prompt; 'help' lists them, 'quit' leaves.",
  args: [],
  positionals: [0, 0],
  options: [MAP_PROFILE, CPUS],
  examples: ['shell', 'shell --profile modern --cpus 4'],
};

export const CONFORMANCE_PLUGIN: CommandSpec = {
  name: 'conformance-plugin',
  usage: ['conformance-plugin [MEMORY] [--interpret | --jit]'],
  summary:
    "The bpf_conformance plugin protocol: the program comes on standard input in base16\n" +
    '(bytes as hex, space-separated), r1 = MEMORY and r2 = its length; r0 is printed in hex.\n' +
    'Unverified, as the conformance suite expects. Any failure exits 1 with one line on stderr.',
  args: [['MEMORY', "the buffer as base16 bytes ('00 2a ...'); none: an empty buffer"]],
  positionals: [0, 1],
  options: [
    { name: 'interpret', help: 'run in the checked interpreter (the default)' },
    { name: 'jit', help: 'run in the WebAssembly JIT' },
  ],
  examples: ["conformance-plugin '00 2a' <<< 'b7 00 00 00 2a 00 00 00 95 00 00 00 00 00 00 00'"],
  notes: 'With bpf_conformance: bpf_conformance_runner --plugin_path tsbpf --plugin_options conformance-plugin ...',
};

export const BENCH: CommandSpec = {
  name: 'bench',
  usage: ['bench [--json] [--verifier | --xdp | --filter | --startup | --map-ops | --workers]'],
  summary:
    'The benchmark table: workloads in the interpreter, the JIT and native C, a capture\n' +
    'filtered, map operations, the verifier against the host kernel\'s, XDP/tc programs.\n' +
    'Takes a few minutes.',
  args: [],
  positionals: [0, 0],
  options: [
    { name: 'json', help: 'the measurements as one JSON object' },
    { name: 'verifier', help: 'only the verifier section: time per verification under both profiles against the host kernel\'s' },
    { name: 'xdp', help: 'only the XDP/tc section: clang-built objects on the JIT against the kernel\'s BPF_PROG_TEST_RUN' },
    { name: 'startup', help: 'only the start-up section: JIT compile µs per instruction, load to first verdict\n(eager and tiered)' },
    { name: 'filter', help: "only the end-to-end filter section: tsbpf filter 'tcp port 80' against tcpdump -r on a\ngenerated 500,000-frame capture, as processes" },
    { name: 'map-ops', help: 'only the map operations from JavaScript (BpfMap typed and raw, sys.bpf, batches) against a JS Map\nand the host kernel\'s bpf(2), 10k/100k/1M entries' },
    { name: 'workers', help: 'only the workers section: a 500,000-frame capture run by 1, 2 and N worker threads (and\nthe main thread alone), a map-heavy program, a map-less filter and an XDP flow counter over a\nper-CPU and a shared hash, speedups to 1 worker, and the same work in C on 1, 2 and N threads' },
  ],
  examples: ['bench', 'bench --verifier', 'bench --xdp', 'bench --filter', 'bench --startup', 'bench --map-ops', 'bench --workers'],
};

export const HELP_CMD: CommandSpec = {
  name: 'help',
  usage: ['help [COMMAND]'],
  summary: 'The overview, or the help of COMMAND (the same as tsbpf COMMAND --help).',
  args: [['COMMAND', 'a command name']],
  positionals: [0, 1],
  options: [],
  examples: ['help run'],
};

export const COMMANDS: readonly CommandSpec[] = [RUN, FILTER, COMPILE, VERIFY, DISASM, ASM, INSPECT, BATCH, SHELL, CONFORMANCE_PLUGIN, BENCH, HELP_CMD];

export const USAGE = `tsbpf: the Linux eBPF subsystem in TypeScript

Usage:
  tsbpf run PROG [--data HEX | --data-file FILE | --pcap FILE] [--repeat N] [--json]
  tsbpf run PROG --mem HEX     r1 = a buffer, r2 = its length, as uBPF and bpf_conformance
  tsbpf filter PROG CAPTURE [-w OUT.pcap] [--count] [--json]   tcpdump -r with an eBPF or classic filter
  tsbpf filter 'EXPR' CAPTURE  the same with a tcpdump expression ('tcp port 80')
  tsbpf compile EXPR [-d|-dd|-ddd|--ebpf]   a tcpdump expression as classic BPF
  tsbpf verify PROG [--log-level 0|1|2] [--json]   the 3.19 verifier's verdict and log
  tsbpf disasm PROG [--json]   disassemble, in the kernel's verifier-log syntax
  tsbpf asm FILE [-o OUT]      assemble to raw 8-byte instruction slots
  tsbpf inspect FILE.o         sections, programs and maps of a clang-compiled object
  tsbpf batch FILE [--json]    bpftool map commands, one per line, in one process
  tsbpf shell                  the same, interactive
  tsbpf conformance-plugin     the bpf_conformance plugin protocol
  tsbpf bench                  the benchmark table (interpreter vs native C)
  tsbpf help COMMAND           a command's options and an example (or tsbpf COMMAND --help)

PROG is detected from its content: assembly text (kernel verifier-log syntax
or the bpf_conformance dialect), a JSON program spec ({"insns": [...]}),
classic BPF as printed by tcpdump -dd or -ddd, a clang -target bpf object, or
raw little-endian 8-byte instruction slots. "-" reads standard input, for
PROG and for any other input file. CAPTURE is pcap or pcapng.

Exit status: 0 success, 1 the program was rejected or failed at run time,
2 bad usage or unreadable input. Environment: TSBPF_DEBUG=1 prints stack traces.
Reference: docs/cli.md.`;
