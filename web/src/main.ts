/**
 * The playground page: an editor (CodeMirror 6) for eBPF assembly, classic
 * BPF text or a tcpdump expression, or a clang .o; the verifier's verdict
 * and log, each line linked to its instruction, the verifier's states per
 * instruction (from the level-2 log) and a hint for common rejections; runs
 * on a packet or a capture with both engines; a step debugger over the
 * checked interpreter (Interpreter.runStepped); maps as editable tables (by
 * field name where a clang -g object's BTF types a key or value, else hex); the
 * whole state in the URL fragment. Everything runs in the page: tsbpf is
 * bundled from src/ (its main entry imports nothing of Node).
 *
 * The URL contract (tests and shared links):
 * `#prog=<base64url text>&data=<hex>&profile=3.19|modern&type=<prog type>`
 * (plus `kind=asm|classic|expr`, or `obj=<base64url .o>&section=NAME`)
 * verifies and runs on load; the verdict, the log and r0 land in
 * data-testid "verdict", "verifier-log" and "retval".
 */
import { EditorView, keymap, lineNumbers, highlightActiveLine, Decoration, WidgetType } from '@codemirror/view';
import type { DecorationSet } from '@codemirror/view';
import { EditorState, StateField, StateEffect, RangeSetBuilder } from '@codemirror/state';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import {
  BpfSystem, BpfMap, Program, Interpreter, verifyProgram, programInput, disasmSlots, assembleWithLines,
  compileFilter, encodeClassic, loadCollectionSpec, parseCapture, summarize, BpfError, MAP_TYPES, slotCount, opcodeShape, helperDef, mapTypeById, PROFILE_3_19,
  btfCodecs,
} from '../../src/index.js';
import type { Verdict, ProgramSpec, EngineName, Packet, ProgTypeName, MapTypeName } from '../../src/index.js';
import { ebpfAsm, asmHighlight } from './asm-lang.js';
import { EXAMPLES } from './examples.js';
import type { Example } from './examples.js';
import { buildPacket, fromHex, toHex, hexDump } from './packet.js';
import { lineInsn, statesByInsn, hintFor } from './log.js';
import { formatValue, parseValue, isRecord, sameValue } from './values.js';
import type { Value } from './values.js';
import './style.css';

type Kind = 'asm' | 'classic' | 'expr' | 'object';
type ProfileName = '3.19' | 'modern';

/** What the page shows and what a shared link carries. */
interface PageState {
  kind: Kind;
  profile: ProfileName;
  type: string;
  text: string;
  data: string;
  object?: Uint8Array;
  objectName?: string;
  section?: string;
  /** the verifier log's level: 1 as the kernel's default, 2 with the states */
  logLevel: 1 | 2;
}

/** A side's codec from the object's BTF (what btfCodecs gives). */
type SideCodec = ReturnType<typeof btfCodecs>['key'];

/** A map of the current program: its name, live wrapper, and its key's and value's BTF codecs when the object has them (hex otherwise). */
interface NamedMap {
  name: string;
  map: BpfMap;
  key?: SideCodec;
  value?: SideCodec;
}

/** The result of the last verify: the system, the program when accepted, its maps and how log indexes map to editor lines. */
interface Session {
  sys: BpfSystem;
  prog: Program | undefined;
  maps: NamedMap[];
  verdict: Verdict | undefined;
  /** an error before the verifier (syntax, bad object) */
  error: string | undefined;
  /** slot index -> editor line (1-based), assembly only */
  slotLine: Map<number, number>;
  /** the listing: [slot index, text] */
  listing: [number, string][];
  states: Map<number, string[]>;
  /** under 3.19: the modern verifier's states on the same program, for comparison (3.19's log has states at branches only) */
  modernStates: Map<number, string[]> | undefined;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

const PROG_TYPES: { name: ProgTypeName; label: string; profiles: ProfileName[] }[] = [
  { name: 'socket_filter', label: 'socket_filter', profiles: ['3.19', 'modern'] },
  { name: 'xdp', label: 'xdp', profiles: ['modern'] },
  { name: 'sched_cls', label: 'sched_cls (tc)', profiles: ['modern'] },
  { name: 'unspec', label: 'unspec', profiles: ['3.19', 'modern'] },
];

const state: PageState = { kind: 'asm', profile: '3.19', type: 'socket_filter', text: '', data: '', logLevel: 2 };
let session: Session | undefined;
/** why the profile changed by itself at the last verify ('' when it did not) */
let profileNote = '';
let capture: { name: string; bytes: Uint8Array } | undefined;

// ------------------------------------------------------------------ editor

const setMarks = StateEffect.define<{ failing?: number; current?: number; message?: string }>();

/** The verifier's message at the end of the failing line. */
class MessageWidget extends WidgetType {
  constructor(readonly text: string) {
    super();
  }
  override eq(other: MessageWidget): boolean {
    return other.text === this.text;
  }
  toDOM(): HTMLElement {
    const span = document.createElement('span');
    span.className = 'cm-verifier-message';
    span.textContent = `  ← ${this.text}`;
    return span;
  }
}

const marks = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (!e.is(setMarks)) continue;
      const b = new RangeSetBuilder<Decoration>();
      const lines = [[e.value.failing, 'failing'], [e.value.current, 'current']].filter((x): x is [number, string] => typeof x[0] === 'number' && x[0] >= 1 && x[0] <= tr.state.doc.lines).sort((a, c) => a[0] - c[0]);
      for (const [ln, cls] of lines) {
        const line = tr.state.doc.line(ln);
        b.add(line.from, line.from, Decoration.line({ class: cls }));
        if (cls === 'failing' && e.value.message) b.add(line.to, line.to, Decoration.widget({ widget: new MessageWidget(e.value.message), side: 1 }));
      }
      deco = b.finish();
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

const editorTheme = EditorView.theme({
  '&': { backgroundColor: 'var(--panel)', color: 'var(--fg)' },
  '.cm-gutters': { backgroundColor: 'var(--bg)', color: 'var(--muted)', borderRight: '1px solid var(--border)' },
  '.cm-activeLine': { backgroundColor: 'color-mix(in srgb, var(--cur) 45%, transparent)' },
  '&.cm-focused .cm-cursor': { borderLeftColor: 'var(--fg)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection': { backgroundColor: 'color-mix(in srgb, var(--accent) 30%, transparent)' },
  '.cm-content': { caretColor: 'var(--fg)' },
});

let verifyTimer: ReturnType<typeof setTimeout> | undefined;
const editor = new EditorView({
  parent: $('editor'),
  state: EditorState.create({
    doc: '',
    extensions: [
      lineNumbers(), history(), highlightActiveLine(), ebpfAsm, asmHighlight, editorTheme, marks,
      keymap.of([{ key: 'Mod-Enter', run: () => { verifyAndRun(); return true; } }, ...defaultKeymap, ...historyKeymap]),
      EditorView.updateListener.of((u) => {
        if (!u.docChanged) return;
        state.text = u.state.doc.toString();
        clearTimeout(verifyTimer);
        verifyTimer = setTimeout(() => verifyAndRun(), 500);
      }),
    ],
  }),
});

function setEditorText(text: string): void {
  editor.dispatch({ changes: { from: 0, to: editor.state.doc.length, insert: text } });
  clearTimeout(verifyTimer);
}

/** The message shown on the failing line: the rejection's or the assembler's, without its position. */
function failingMessage(): string | undefined {
  if (session?.error !== undefined) return session.error.replace(/^line \d+: /, '');
  if (session?.verdict && !session.verdict.ok) return session.verdict.message.replace(/^insn \d+: /, '');
  return undefined;
}

function markEditor(failing?: number, current?: number): void {
  editor.dispatch({ effects: setMarks.of({ failing, current, message: failing === undefined ? undefined : failingMessage() }) });
  const ln = current ?? failing;
  if (ln !== undefined && ln >= 1 && ln <= editor.state.doc.lines) {
    editor.dispatch({ effects: EditorView.scrollIntoView(editor.state.doc.line(ln).from, { y: 'nearest' }) });
  }
}

// ------------------------------------------------------------------ loading a program

/** Parse the playground's `#map NAME TYPE key=K value=V entries=N [flags=F]` lines. */
function mapDirectives(text: string): { name: string; type: MapTypeName; keySize: number; valueSize: number; maxEntries: number; flags?: number }[] {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*#map\s+(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const words = m[1]!.trim().split(/\s+/);
    const [name, type, ...rest] = words;
    if (!name || !type || !/^[A-Za-z_][\w.]*$/.test(name)) throw new BpfError('EINVAL', `line ${i + 1}: #map NAME TYPE key=K value=V entries=N`);
    const opts: Record<string, number> = {};
    for (const r of rest) {
      const kv = /^(key|value|entries|flags)=(0x[0-9a-fA-F]+|\d+)$/.exec(r);
      if (!kv) throw new BpfError('EINVAL', `line ${i + 1}: '${r}' is not key=N, value=N, entries=N or flags=N`);
      opts[kv[1]!] = Number(kv[2]);
    }
    if (!MAP_TYPES.some((t) => t.name === type)) throw new BpfError('EINVAL', `line ${i + 1}: unknown map type '${type}' (${MAP_TYPES.map((t) => t.name).join(', ')})`);
    out.push({ name, type: type as MapTypeName, keySize: opts['key'] ?? 4, valueSize: opts['value'] ?? 8, maxEntries: opts['entries'] ?? 1, ...(opts['flags'] !== undefined ? { flags: opts['flags'] } : {}) });
  }
  return out;
}

/** The program spec for the page's input, with the assembly's #map maps created in `sys`. */
function buildSpec(sys: BpfSystem, withLines = false): { spec: ProgramSpec; maps: NamedMap[]; slotLine: Map<number, number> } {
  const maps: NamedMap[] = [];
  const slotLine = new Map<number, number>();
  const type = state.type as ProgTypeName;
  switch (state.kind) {
    case 'asm': {
      try {
        for (const d of mapDirectives(state.text)) maps.push({ name: d.name, map: BpfMap.create(sys, d) });
        const fds = new Map(maps.map((m) => [m.name, m.map.fd]));
        const text = state.text.replace(/map\[([A-Za-z_][\w.]*)\]/g, (all, name: string) => {
          const fd = fds.get(name);
          if (fd === undefined) throw new BpfError('EINVAL', `map[${name}]: no map of that name (declare it: #map ${name} hash key=4 value=8 entries=64)`);
          return `map[fd:${fd}]`;
        });
        if (withLines) {
          const { insns, lines } = assembleWithLines(text);
          let slot = 0;
          insns.forEach((insn, i) => {
            slotLine.set(slot, lines[i]!);
            slot += slotCount(insn);
          });
        }
        return { spec: { insns: text, type }, maps, slotLine };
      } catch (e) {
        for (const m of maps) m.map.close();
        throw e;
      }
    }
    case 'classic':
      return { spec: { insns: state.text, type }, maps, slotLine };
    case 'expr':
      return { spec: { insns: encodeClassic(compileFilter(state.text.trim(), 1)), classic: true, type }, maps, slotLine };
    case 'object':
      if (!state.object) throw new BpfError('EINVAL', 'open a clang .o first (the button above, or drop it on the page)');
      return { spec: { insns: state.object, ...(state.section ? { section: state.section } : {}) }, maps, slotLine };
  }
}

/** The instructions before load, for the listing (the verifier log's indexes are these slots'). */
/** How listings print instructions: the profile's log syntax, helpers by name in the modern one (`call bpf_map_lookup_elem#1`). */
function disasmOptions(): { style: 'modern' | 'log319'; helperName: (id: number) => string | undefined } {
  return { style: state.profile === 'modern' ? 'modern' : 'log319', helperName: (id) => helperDef(id)?.name };
}

function listingOf(spec: ProgramSpec): [number, string][] {
  const input = typeof spec.insns === 'string' || spec.insns instanceof Uint8Array
    ? programInput(spec.insns, { classic: spec.classic === true, ...(spec.section ? { section: spec.section } : {}) })
    : undefined;
  if (!input) return [];
  return disasmSlots(input.slots, disasmOptions()).split('\n').filter((l) => l !== '').map((l) => {
    const m = /^(\d+): (.*)$/.exec(l)!;
    return [Number(m[1]), m[2]!];
  });
}

function closeSession(): void {
  if (!session) return;
  session.prog?.close();
  for (const m of session.maps) m.map.close();
  session = undefined;
}

/** Verify the page's program (log level 1 for the log shown, 2 for the states), load it when accepted. */
/**
 * The profile a program needs, as the CLI chooses it: a program type 3.19
 * lacks (XDP, tc: picked in the selector or by an object's section) or a map
 * type it lacks (an object's map, or an assembly #map line) takes the modern
 * profile; the status line says so. Returns the note, or ''.
 */
function chooseProfile(): string {
  if (state.profile === 'modern') return '';
  let type = state.type;
  let mapTypes: number[] = [];
  try {
    if (state.kind === 'object' && state.object) {
      const spec = loadCollectionSpec(state.object);
      const progs = Object.values(spec.programs);
      type = (progs.find((p) => p.name === state.section) ?? progs[0])?.type ?? type;
      mapTypes = Object.values(spec.maps).map((m) => m.type);
    } else if (state.kind === 'asm') {
      mapTypes = mapDirectives(state.text).map((d) => MAP_TYPES.find((t) => t.name === d.type)!.id);
    } else {
      return '';
    }
  } catch {
    // an input that does not parse: the load will say why
    return '';
  }
  const row = PROG_TYPES.find((t) => t.name === type);
  let why = row && !row.profiles.includes('3.19') ? `${type} programs need` : '';
  for (const id of mapTypes) {
    if (why) break;
    try {
      mapTypeById(id, PROFILE_3_19);
    } catch {
      why = `map type ${MAP_TYPES.find((t) => t.id === id)?.name ?? id} needs`;
    }
  }
  if (!why) return '';
  state.profile = 'modern';
  $<HTMLSelectElement>('profile').value = 'modern';
  fillTypes();
  return `${why} the modern profile: switched to it. `;
}

/** The modern verifier's level-2 states on the page's program, on a system of its own; undefined when it cannot judge it. */
function modernStatesOf(): Map<number, string[]> | undefined {
  const msys = new BpfSystem({ profile: 'modern' });
  let maps: NamedMap[] = [];
  try {
    const built = buildSpec(msys);
    maps = built.maps;
    return statesByInsn(verifyProgram({ ...built.spec, logLevel: 2 }, msys).log);
  } catch {
    return undefined;
  } finally {
    for (const m of maps) m.map.close();
  }
}

function verify(): Session {
  closeSession();
  profileNote = chooseProfile();
  const sys = new BpfSystem({ profile: state.profile });
  const s: Session = { sys, prog: undefined, maps: [], verdict: undefined, error: undefined, slotLine: new Map(), listing: [], states: new Map(), modernStates: undefined };
  try {
    const built = buildSpec(sys, true);
    s.maps = built.maps;
    s.slotLine = built.slotLine;
    try {
      s.listing = listingOf(built.spec);
    } catch {
      s.listing = [];
    }
    // the log shown at the level asked for; the states always from level 2's
    const detailed = verifyProgram({ ...built.spec, logLevel: 2 }, sys);
    s.verdict = state.logLevel === 2 ? detailed : verifyProgram({ ...built.spec, logLevel: 1 }, sys);
    s.states = statesByInsn(detailed.log);
    if (state.profile === '3.19') s.modernStates = modernStatesOf();
    if (s.verdict.ok) {
      s.prog = Program.load(sys, built.spec);
      const typed = state.kind === 'object' && state.object ? btfSides(state.object) : new Map<string, Pick<NamedMap, 'key' | 'value'>>();
      for (const [name, map] of Object.entries(s.prog.maps)) s.maps.push({ name, map, ...typed.get(name) });
    }
  } catch (e) {
    s.error = e instanceof Error ? e.message : String(e);
  }
  session = s;
  return s;
}

// ------------------------------------------------------------------ verdict, log, listing

const XDP_ACTIONS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const TC_ACTIONS: Record<number, string> = { [-1]: 'TC_ACT_UNSPEC', 0: 'TC_ACT_OK', 1: 'TC_ACT_RECLASSIFY', 2: 'TC_ACT_SHOT', 3: 'TC_ACT_PIPE', 4: 'TC_ACT_STOLEN', 5: 'TC_ACT_QUEUED', 6: 'TC_ACT_REPEAT', 7: 'TC_ACT_REDIRECT' };

/** What a return value means for the program's type. */
function verdictName(type: string, r0: number): string {
  if (type === 'xdp') return XDP_ACTIONS[r0] ?? `unknown XDP action ${r0}`;
  if (type === 'sched_cls') return TC_ACTIONS[r0 | 0] ?? `TC action ${r0 | 0}`;
  if (type === 'socket_filter') return r0 === 0 ? 'drop' : `keep ${r0} bytes`;
  return `r0 = ${r0}`;
}

function progType(): string {
  return session?.prog ? session.prog.object.prog.type.name : state.type;
}

function showVerdict(s: Session, run?: { r0: bigint; error?: string }): void {
  // an object's program type is its section's: the selector shows it
  if (state.kind === 'object' && s.prog) $<HTMLSelectElement>('type').value = s.prog.object.prog.type.name;
  const v = $('verdict');
  const hint = $('hint');
  hint.hidden = true;
  hint.textContent = '';
  let failing: number | undefined;
  if (s.error !== undefined) {
    v.textContent = `error: ${s.error}`;
    v.className = 'bad';
    const m = /^line (\d+):/.exec(s.error);
    if (m) failing = Number(m[1]);
    $('verifier-log').textContent = '';
  } else if (s.verdict && !s.verdict.ok) {
    v.textContent = `rejected (${s.verdict.code}): ${s.verdict.message}`;
    v.className = 'bad';
    const h = hintFor(s.verdict.message);
    if (h) {
      hint.textContent = `Hint: ${h}`;
      hint.hidden = false;
    }
    if (s.verdict.insn !== undefined) failing = s.slotLine.get(s.verdict.insn);
  } else if (s.verdict?.ok) {
    if (run?.error) {
      v.textContent = `accepted; the run failed: ${run.error}`;
      v.className = 'bad';
    } else if (run) {
      v.textContent = `accepted; ${verdictName(progType(), Number(run.r0 & 0xffffffffn))}`;
      v.className = 'ok';
    } else {
      v.textContent = `accepted (${state.profile} profile); give a packet to run it`;
      v.className = 'ok';
    }
  }
  $('retval').textContent = run && !run.error ? String(run.r0) : '-';
  renderLog(s);
  renderListing(s);
  markEditor(failing);
}

function renderLog(s: Session): void {
  const pre = $('verifier-log');
  pre.textContent = '';
  const log = s.verdict?.log ?? '';
  const bad = s.verdict && !s.verdict.ok ? s.verdict.insn : undefined;
  for (const line of log.replace(/\n$/, '').split('\n')) {
    const span = document.createElement('span');
    span.textContent = line;
    const pc = lineInsn(line);
    if (pc !== undefined) {
      span.dataset['pc'] = String(pc);
      if (pc === bad && /^\d+: /.test(line)) span.className = 'failing';
      span.addEventListener('click', () => selectInsn(pc));
    }
    pre.append(span, '\n');
  }
  // the message at the end belongs to the failing instruction too
  if (bad !== undefined && pre.lastElementChild instanceof HTMLElement && pre.lastElementChild.dataset['pc'] === undefined) {
    pre.lastElementChild.classList.add('failing');
    pre.lastElementChild.dataset['pc'] = String(bad);
    pre.lastElementChild.addEventListener('click', () => selectInsn(bad));
  }
}

function renderListing(s: Session): void {
  const ol = $('listing');
  ol.textContent = '';
  const bad = s.verdict && !s.verdict.ok ? s.verdict.insn : undefined;
  for (const [pc, text] of s.listing) {
    const li = document.createElement('li');
    li.value = pc;
    li.dataset['pc'] = String(pc);
    li.textContent = text;
    if (pc === bad) li.classList.add('failing');
    if (s.states.has(pc)) li.title = 'the verifier recorded its state here';
    li.addEventListener('click', () => selectInsn(pc));
    ol.appendChild(li);
  }
  $('state-pc').textContent = '-';
  $('state').textContent = s.listing.length ? '(click an instruction)' : '';
}

/** Select instruction `pc`: the listing, its verifier states, its editor line. */
function selectInsn(pc: number): void {
  if (!session) return;
  showTab('program');
  for (const li of $('listing').querySelectorAll('li')) li.classList.toggle('selected', li.dataset['pc'] === String(pc));
  $('listing').querySelector(`li[data-pc="${pc}"]`)?.scrollIntoView({ block: 'nearest' });
  $('state-pc').textContent = String(pc);
  const states = session.states.get(pc);
  const text = session.listing.find(([p]) => p === pc)?.[1] ?? '';
  let body = states?.length
    ? states.join('\n\n')
    : state.profile === '3.19'
      ? 'The 3.19 log records states at branches and branch targets only; none here.'
      : 'No state recorded: the verifier did not reach this instruction, or pruned it.';
  const modern = session.modernStates?.get(pc);
  if (modern?.length) body += `\n\nThe modern verifier (6.18) on the same program, for comparison:\n${modern.join('\n\n')}`;
  $('state').textContent = `${pc}: ${text}\n\n${body}`;
  const failing = session.verdict && !session.verdict.ok && session.verdict.insn !== undefined ? session.slotLine.get(session.verdict.insn) : undefined;
  markEditor(failing, session.slotLine.get(pc));
}

// ------------------------------------------------------------------ running

function packetBytes(): Uint8Array | undefined {
  const text = state.data.trim();
  if (text === '') return undefined;
  return fromHex(text);
}

/** Verify, then run on the packet when one is given; refresh every view. */
function verifyAndRun(): void {
  readControls();
  const s = verify();
  let run: { r0: bigint; error?: string } | undefined;
  let data: Uint8Array | undefined;
  try {
    data = packetBytes();
  } catch (e) {
    run = { r0: 0n, error: (e as Error).message };
  }
  if (s.prog && data && !run) {
    try {
      run = { r0: s.prog.testRun(data).retval };
    } catch (e) {
      run = { r0: 0n, error: e instanceof Error ? e.message : String(e) };
    }
  }
  showVerdict(s, s.prog ? run : undefined);
  renderPacket(data);
  renderMaps();
  resetDebugger();
  if (capture && s.prog) runCapture();
  else if (capture) $('capture-summary').textContent = 'The program is not loaded: nothing ran over the capture.';
  $('status').textContent = `${profileNote}${state.profile} profile · ${progType()} · ${s.listing.length} instructions`;
}

function renderPacket(data: Uint8Array | undefined): void {
  const view = $('packet-view');
  view.textContent = '';
  if (!data || data.length === 0) return;
  const p = document.createElement('p');
  p.textContent = `${data.length} bytes: ${summarize(data, 1)}`;
  const pre = document.createElement('pre');
  pre.textContent = hexDump(data);
  view.append(p, pre);
}

/** Every packet of the open capture through the loaded program: the table, the counts. */
function runCapture(): void {
  const s = session;
  if (!s?.prog || !capture) return;
  const table = $<HTMLTableElement>('capture');
  table.textContent = '';
  $('capture-hex').textContent = '';
  let packets: Packet[];
  try {
    packets = [...parseCapture(capture.bytes)].map((p) => ({ ...p, data: p.data.slice() }));
  } catch (e) {
    $('capture-summary').textContent = `cannot read ${capture.name}: ${(e as Error).message}`;
    return;
  }
  const type = progType();
  let verdicts: Uint32Array;
  const t0 = performance.now();
  try {
    verdicts = type === 'socket_filter'
      ? s.prog.runBatch(packets.map((p) => ({ data: p.data, netOff: p.netOff })))
      : s.prog.runFrames(packets.map((p) => p.data)).verdicts;
  } catch (e) {
    $('capture-summary').textContent = `the run failed: ${(e as Error).message}`;
    return;
  }
  const ms = performance.now() - t0;
  const counts = new Map<string, number>();
  const head = table.createTHead().insertRow();
  for (const h of ['#', 'time', 'len', 'summary', 'verdict']) head.appendChild(Object.assign(document.createElement('th'), { textContent: h }));
  const body = table.createTBody();
  const t0ns = packets[0]?.tsNs ?? 0n;
  packets.forEach((p, i) => {
    const name = verdictName(type, verdicts[i]!);
    const key = type === 'socket_filter' ? (verdicts[i] === 0 ? 'dropped' : 'kept') : name;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const row = body.insertRow();
    row.dataset['i'] = String(i);
    const cells = [String(i + 1), (Number(p.tsNs - t0ns) / 1e9).toFixed(6), String(p.origLen), summarize(p.data, p.linkType), name];
    for (const c of cells) row.insertCell().textContent = c;
    row.addEventListener('click', () => {
      for (const r of body.rows) r.classList.toggle('selected', r === row);
      $('capture-hex').textContent = `packet ${i + 1}: ${summarize(p.data, p.linkType)}\n${hexDump(p.data)}`;
    });
  });
  // the browser's clock is coarse (0.1 ms): a time per packet only when the whole took long enough to mean it
  const time = ms >= 2 ? `${((ms * 1000) / packets.length).toFixed(1)} µs per packet` : 'under 2 ms in all';
  $('capture-summary').textContent = `${packets.length} packets: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')} (${time})`;
  renderMaps();
}

/**
 * Both engines on a fresh load each (the page's maps are left alone): runs
 * doubled until they take 40 ms, since a browser's clock is coarse (0.1 ms
 * in Chromium without cross-origin isolation), then the time per run.
 */
function compareEngines(): void {
  const out = $('compare-out');
  try {
    const data = packetBytes() ?? new Uint8Array(64);
    const results: string[] = [];
    for (const engine of ['interpreter', 'jit'] as EngineName[]) {
      const sys = new BpfSystem({ profile: state.profile });
      const { spec, maps } = buildSpec(sys);
      const prog = Program.load(sys, spec);
      try {
        let r0 = prog.testRun(data, 200, engine).retval;
        let runs = 1000;
        let ms = 0;
        for (;;) {
          const t0 = performance.now();
          r0 = prog.testRun(data, runs, engine).retval;
          ms = performance.now() - t0;
          if (ms >= 40 || runs >= 1 << 22) break;
          runs *= 2;
        }
        results.push(`${engine}: r0 = ${r0}, ${((ms * 1e6) / runs).toFixed(0)} ns per run`);
      } finally {
        prog.close();
        for (const m of maps) m.map.close();
      }
    }
    out.textContent = results.join(' · ');
  } catch (e) {
    out.textContent = `cannot compare: ${(e as Error).message}`;
  }
}

// ------------------------------------------------------------------ maps

/**
 * The BTF codecs of an object's maps, by name: a side (key or value) with a
 * type decodes by field name, a side without one (global data, a map
 * defined without __type) stays hex. A map whose types do not match its
 * sizes stays hex too: the table still works, only less readable.
 */
function btfSides(object: Uint8Array): Map<string, Pick<NamedMap, 'key' | 'value'>> {
  const out = new Map<string, Pick<NamedMap, 'key' | 'value'>>();
  try {
    for (const [name, m] of Object.entries(loadCollectionSpec(object).maps)) {
      if (!m.btf) continue;
      try {
        const c = btfCodecs(m.btf, m.keySize, m.valueSize);
        // btfCodecs leaves an untyped side as bytes: such a side is shown as hex
        const sides: Pick<NamedMap, 'key' | 'value'> = {};
        if (m.btf.key !== 0) sides.key = c.key;
        if (m.btf.value !== 0 && !m.btf.vars) sides.value = c.value;
        out.set(name, sides);
      } catch {
        // sizes the types do not match: hex
      }
    }
  } catch {
    // the object loaded, so its spec reads; nothing typed if not
  }
  return out;
}

/** One entry as stored: the key, and the value (one per CPU for a per-CPU map). */
interface RawEntry {
  key: Uint8Array;
  value: Uint8Array | Uint8Array[];
}

/** Up to `max` entries of a map, as bytes. */
function rawEntries(m: BpfMap, max = 256): RawEntry[] {
  const out: RawEntry[] = [];
  try {
    for (const k of m.keys()) {
      if (out.length >= max) break;
      const v = m.perCpu ? m.lookupPerCpu(k) : m.lookup(k);
      if (v !== undefined) out.push({ key: k, value: v });
    }
  } catch {
    // a queue, stack or ring buffer has no keys to walk
  }
  return out;
}

function hexOf(v: Uint8Array | Uint8Array[]): string {
  return Array.isArray(v) ? v.map(toHex).join(' | ') : toHex(v);
}

const isZero = (v: Uint8Array | Uint8Array[]): boolean => (Array.isArray(v) ? v.every((b) => b.every((x) => x === 0)) : v.every((x) => x === 0));

/** A key as shown: decoded by its BTF, else hex. */
function keyText(nm: NamedMap, k: Uint8Array): string {
  return nm.key ? formatValue(nm.key.decode(k) as Value) : toHex(k);
}

/** A value as shown: decoded by its BTF (a per-CPU map's as a list, one per CPU), else hex. */
function valueText(nm: NamedMap, v: Uint8Array | Uint8Array[]): string {
  if (!nm.value) return hexOf(v);
  const c = nm.value;
  return Array.isArray(v) ? formatValue(v.map((b) => c.decode(b) as Value)) : formatValue(c.decode(v) as Value);
}

/** Up to `max` entries as the debugger lists them: [key, value, all-zero]. */
function mapEntries(nm: NamedMap, max = 256): [string, string, boolean][] {
  return rawEntries(nm.map, max).map((e) => [keyText(nm, e.key), valueText(nm, e.value), isZero(e.value)]);
}

/**
 * Key or value text as bytes: hex for a side without a type; the loose JSON
 * form through the side's codec for a typed one, where raw bytes are
 * written `<hex>` (plain digits would be ambiguous: `10` is ten, not 0x10).
 */
function sideBytes(codec: SideCodec | undefined, text: string, size: number, what: 'key' | 'value'): Uint8Array {
  if (!codec) return fromHex(text);
  try {
    const v = parseValue(text, what);
    if (v instanceof Uint8Array && v.length !== size) throw new BpfError('EINVAL', `${what}: <${toHex(v)}> has ${v.length} bytes, the map's ${what}s ${size}`);
    return codec.encode(v);
  } catch (e) {
    // bare hex of the side's size is most likely bytes pasted from a hex view
    const hex = text.replace(/\s/g, '');
    if (e instanceof BpfError && hex.length === 2 * size && /^[0-9a-f]+$/i.test(hex)) throw new BpfError('EINVAL', `${e.message} (raw bytes go in <>: <${hex}>)`);
    throw e;
  }
}

/** The fields a table shows as columns: a struct's top-level fields, else one column for the whole side. */
function columnsOf(codec: SideCodec | undefined, size: number, perCpu: boolean): string[] | undefined {
  if (!codec || perCpu) return undefined;
  const zero = codec.decode(new Uint8Array(size)) as Value;
  return isRecord(zero) ? Object.keys(zero) : undefined;
}

let lastMapView = new Map<string, Map<string, string>>();

function renderMaps(): void {
  const root = $('maps');
  root.textContent = '';
  const maps = session?.maps ?? [];
  if (maps.length === 0) {
    root.textContent = 'This program has no maps.';
    return;
  }
  const seen = new Map<string, Map<string, string>>();
  for (const nm of maps) {
    const { name, map } = nm;
    const entries = rawEntries(map);
    const before = lastMapView.get(name);
    seen.set(name, new Map(entries.map((e) => [toHex(e.key), hexOf(e.value)])));
    const box = document.createElement('div');
    box.className = 'map-table';
    const type = MAP_TYPES.find((t) => t.id === map.type)?.name ?? String(map.type);
    box.appendChild(Object.assign(document.createElement('h4'), { textContent: `${name} (${type}, key ${map.keySize} B, value ${map.valueSize} B, ${map.maxEntries} entries)` }));
    const table = document.createElement('table');
    table.dataset['map'] = name;
    const keyCols = columnsOf(nm.key, map.keySize, false);
    const valCols = columnsOf(nm.value, map.valueSize, map.perCpu);
    const thead = table.createTHead();
    if (keyCols || valCols) {
      // a typed map: a row naming the sides over a row of field names
      const sides = thead.insertRow();
      sides.appendChild(Object.assign(document.createElement('th'), { textContent: 'key', colSpan: keyCols?.length ?? 1 }));
      sides.appendChild(Object.assign(document.createElement('th'), { textContent: 'value', colSpan: valCols?.length ?? 1 }));
      sides.appendChild(document.createElement('th'));
      const fields = thead.insertRow();
      fields.className = 'fields';
      for (const f of keyCols ?? ['']) fields.appendChild(Object.assign(document.createElement('th'), { textContent: f, className: 'mono' }));
      for (const f of valCols ?? ['']) fields.appendChild(Object.assign(document.createElement('th'), { textContent: f, className: 'mono' }));
      fields.appendChild(document.createElement('th'));
    } else {
      const head = thead.insertRow();
      for (const h of ['key', 'value', '']) head.appendChild(Object.assign(document.createElement('th'), { textContent: h, className: 'mono' }));
    }
    const body = table.createTBody();
    // an array has every key; its untouched (all-zero) entries would bury the ones in use
    const isArray = /array/.test(type);
    const shown = isArray ? entries.filter((e) => !isZero(e.value)) : entries;
    for (const e of shown) {
      const row = body.insertRow();
      const kHex = toHex(e.key);
      if (before && before.get(kHex) !== hexOf(e.value)) row.className = 'changed-row';
      if (keyCols) {
        const k = nm.key!.decode(e.key) as { [f: string]: Value };
        for (const f of keyCols) Object.assign(row.insertCell(), { textContent: formatValue(k[f]!), className: 'mono' }).dataset['field'] = f;
      } else {
        Object.assign(row.insertCell(), { textContent: keyText(nm, e.key), className: 'mono' });
      }
      const kShown = keyText(nm, e.key);
      if (valCols && !Array.isArray(e.value)) {
        const v = nm.value!.decode(e.value) as { [f: string]: Value };
        for (const f of valCols) {
          const shownValue = formatValue(v[f]!);
          // each field as wide as its text: a struct of twenty fields scrolls rather than clips
          const input = Object.assign(document.createElement('input'), { value: shownValue, spellcheck: false, size: Math.max(4, shownValue.length + 1) });
          input.setAttribute('aria-label', `${f} of ${kShown}`);
          input.dataset['field'] = f;
          input.addEventListener('change', () => editField(nm, e.key, f, input.value));
          row.insertCell().appendChild(input);
        }
      } else {
        const input = Object.assign(document.createElement('input'), { value: valueText(nm, e.value), spellcheck: false });
        input.setAttribute('aria-label', `value of ${kShown}`);
        input.addEventListener('change', () => editMap(nm, e.key, input.value));
        row.insertCell().appendChild(input);
      }
      if (isArray) {
        // an array's elements cannot be deleted (EINVAL), only set
        row.insertCell();
        continue;
      }
      const del = Object.assign(document.createElement('button'), { textContent: 'delete' });
      del.addEventListener('click', () => {
        try {
          map.delete(e.key);
          renderMaps();
        } catch (err) {
          $('status').textContent = `delete: ${(err as Error).message}`;
        }
      });
      row.insertCell().appendChild(del);
    }
    const add = body.insertRow();
    const form = (c: SideCodec | undefined, cols: string[] | undefined, size: number, side: string): string =>
      c ? `${side}: ${cols ? `{ ${cols.join(', ')} }` : formatValue(c.decode(new Uint8Array(size)) as Value)} or <${size} bytes hex>` : `${side}, ${size} bytes hex`;
    const keyIn = Object.assign(document.createElement('input'), { placeholder: form(nm.key, keyCols, map.keySize, 'key'), spellcheck: false });
    const valIn = Object.assign(document.createElement('input'), { placeholder: form(nm.value, valCols, map.valueSize, 'value'), spellcheck: false });
    keyIn.dataset['testid'] = `map-key-${name}`;
    valIn.dataset['testid'] = `map-value-${name}`;
    const set = Object.assign(document.createElement('button'), { textContent: 'set' });
    set.dataset['testid'] = `map-set-${name}`;
    set.addEventListener('click', () => {
      let key: Uint8Array;
      try {
        key = sideBytes(nm.key, keyIn.value, map.keySize, 'key');
      } catch (err) {
        $('status').textContent = `map update refused: ${(err as Error).message}`;
        return;
      }
      editMap(nm, key, valIn.value);
    });
    Object.assign(add.insertCell(), { colSpan: keyCols?.length ?? 1 }).appendChild(keyIn);
    Object.assign(add.insertCell(), { colSpan: valCols?.length ?? 1 }).appendChild(valIn);
    add.insertCell().appendChild(set);
    const wrap = document.createElement('div');
    wrap.className = 'scroll';
    wrap.appendChild(table);
    box.appendChild(wrap);
    if (shown.length < entries.length) {
      box.appendChild(Object.assign(document.createElement('p'), { className: 'help', textContent: `${entries.length - shown.length} all-zero entries not shown (set one with the last row)` }));
    }
    root.appendChild(box);
  }
  lastMapView = seen;
}

/** Store `valueText` (loose JSON through the BTF codec, or hex) at `key`. */
function editMap(nm: NamedMap, key: Uint8Array, text: string): void {
  const { map } = nm;
  try {
    let value: Uint8Array | Uint8Array[];
    if (map.perCpu && nm.value) {
      const all = parseValue(text, 'value');
      if (!Array.isArray(all)) throw new BpfError('EINVAL', `value: a per-CPU map takes a list, one value per CPU`);
      value = all.map((v) => nm.value!.encode(v as never));
    } else {
      value = sideBytes(nm.value, text, map.valueSize, 'value');
    }
    store(nm, key, value);
  } catch (e) {
    $('status').textContent = `map update refused: ${(e as Error).message}`;
  }
  renderMaps();
}

/**
 * Set one top-level field of a struct value and keep the others. A union's
 * members all decode from the same bytes and encode in order, so a member
 * written after the edited one would put the old bytes back: when the
 * edited field does not read back as typed, the encoding is tried again
 * without each other member in turn (a struct needs every member, so only
 * a union's siblings can go).
 */
function editField(nm: NamedMap, key: Uint8Array, field: string, text: string): void {
  const c = nm.value!;
  try {
    const old = nm.map.lookup(key);
    if (old === undefined) throw new BpfError('ENOENT', 'the entry is gone');
    const want = parseValue(text, `value.${field}`);
    const obj = { ...(c.decode(old) as { [f: string]: Value }), [field]: want };
    const reads = (b: Uint8Array): boolean => sameValue((c.decode(b) as { [f: string]: Value })[field]!, want);
    let bytes = c.encode(obj as never);
    if (!reads(bytes)) {
      for (const other of Object.keys(obj)) {
        if (other === field) continue;
        const without: { [f: string]: Value | undefined } = { ...obj, [other]: undefined };
        try {
          const b = c.encode(without as never);
          if (reads(b)) {
            bytes = b;
            break;
          }
        } catch {
          // a struct member cannot be left out
        }
      }
    }
    store(nm, key, bytes);
  } catch (e) {
    $('status').textContent = `map update refused: ${(e as Error).message}`;
  }
  renderMaps();
}

function store(nm: NamedMap, key: Uint8Array, value: Uint8Array | Uint8Array[]): void {
  const { map } = nm;
  // a per-CPU map given one value sets it on every CPU
  if (map.perCpu) map.updatePerCpu(key, value);
  else if (Array.isArray(value)) throw new BpfError('EINVAL', 'value: one value, not a list (the map is not per-CPU)');
  else map.update(key, value);
  $('status').textContent = `map updated: ${keyText(nm, key)} = ${valueText(nm, value)}`;
}

// ------------------------------------------------------------------ debugger

/** One recorded step: before the instruction at pc. */
interface Step {
  pc: number;
  depth: number;
  regs: bigint[];
  stack: Uint8Array;
  /** the maps' entries, when they changed since the step before (else the same object) */
  maps: Map<string, [string, string, boolean][]>;
}

const MAX_STEPS = 20000;
let trace: { steps: Step[]; listing: [number, string][]; end: string } | undefined;
let cursor = 0;
const breakpoints = new Set<number>();

function resetDebugger(): void {
  trace = undefined;
  cursor = 0;
  $('dbg-status').textContent = session?.prog ? 'Start records a run on the packet.' : 'Load an accepted program first.';
  $('dbg-listing').textContent = '';
  $('dbg-regs').textContent = '';
  $('dbg-stack').textContent = '';
  $('dbg-maps').textContent = '';
}

/** Record a whole run in the checked interpreter, one step per instruction (up to MAX_STEPS). */
function startDebugger(): void {
  const s = session;
  if (!s?.prog) {
    $('dbg-status').textContent = 'Load an accepted program first.';
    return;
  }
  let data: Uint8Array;
  try {
    data = packetBytes() ?? new Uint8Array(0);
  } catch (e) {
    $('dbg-status').textContent = (e as Error).message;
    return;
  }
  const loaded = s.prog.object.prog;
  const mem = s.sys.runtime.mem;
  const it = new Interpreter(mem, loaded.slots, {
    checked: true, helpers: s.sys.runtime.helpers, maps: loaded.maps.map((m) => m.impl), regions: () => loaded.maps.map((m) => m.impl.region), budget: MAX_STEPS,
  });
  const steps: Step[] = [];
  let maps = new Map<string, [string, string, boolean][]>(s.maps.map((m) => [m.name, mapEntries(m, 64)]));
  let prevSlot: number | undefined;
  let run: ReturnType<typeof loaded.type.prepare>;
  try {
    run = loaded.type.prepare(mem, data);
  } catch (e) {
    // a packet the program type refuses (an XDP frame shorter than its Ethernet header...)
    $('dbg-status').textContent = `cannot run on this packet: ${(e as Error).message}`;
    return;
  }
  const impls = loaded.maps.map((m) => m.impl);
  let end: string;
  for (const m of impls) m.enterRun();
  try {
    const res = it.runStepped(run.input, (at) => {
      // maps change at helper calls and atomic stores: read them again after one
      const shape = prevSlot === undefined ? undefined : opcodeShape(loaded.slots[prevSlot]!.code);
      if (shape === 'call' || shape === 'callx' || shape === 'atomic') {
        maps = new Map(s.maps.map((m) => [m.name, mapEntries(m, 64)]));
      }
      const h = it.registerHalves();
      const regs = Array.from({ length: 11 }, (_, r) => (BigInt(h[2 * r + 1]! >>> 0) << 32n) | BigInt(h[2 * r]! >>> 0));
      const fp = Number(regs[10]!);
      steps.push({ pc: at.pc, depth: at.depth, regs, stack: mem.u8.slice(fp - 512, fp), maps });
      prevSlot = at.pc;
    });
    end = `exit: r0 = ${res.r0} after ${res.insns} instructions`;
  } catch (e) {
    end = `the run stopped: ${(e as Error).message}`;
  } finally {
    for (const m of impls) m.exitRun();
    run.release();
  }
  const listing = disasmSlots(loaded.slots, disasmOptions()).split('\n').filter((l) => l !== '').map((l): [number, string] => {
    const m = /^(\d+): (.*)$/.exec(l)!;
    return [Number(m[1]), m[2]!];
  });
  trace = { steps, listing, end };
  cursor = 0;
  const ol = $('dbg-listing');
  ol.textContent = '';
  for (const [pc, text] of listing) {
    const li = document.createElement('li');
    li.value = pc;
    li.dataset['pc'] = String(pc);
    li.textContent = text;
    if (breakpoints.has(pc)) li.classList.add('breakpoint');
    li.addEventListener('click', () => {
      if (breakpoints.has(pc)) breakpoints.delete(pc);
      else breakpoints.add(pc);
      li.classList.toggle('breakpoint', breakpoints.has(pc));
    });
    ol.appendChild(li);
  }
  renderStep();
  renderMaps();
}

function fmtReg(v: bigint): string {
  const signed = BigInt.asIntN(64, v);
  return `0x${v.toString(16)}${signed < 0n && signed > -0x10000n ? ` (${signed})` : v < 0x10000000n ? ` (${v})` : ''}`;
}

function renderStep(): void {
  if (!trace) return;
  const n = trace.steps.length;
  const atEnd = cursor >= n;
  const step = trace.steps[Math.min(cursor, n - 1)];
  $('dbg-status').textContent = atEnd || n === 0 ? `end of the run (${n} steps): ${trace.end}` : `step ${cursor + 1} of ${n}: before pc ${step!.pc}${step!.depth ? ` (call depth ${step!.depth})` : ''}`;
  for (const li of $('dbg-listing').querySelectorAll('li')) li.classList.toggle('current', !atEnd && step !== undefined && li.dataset['pc'] === String(step.pc));
  if (!atEnd && step) $('dbg-listing').querySelector(`li[data-pc="${step.pc}"]`)?.scrollIntoView({ block: 'nearest' });
  if (!step) return;
  const prev = cursor > 0 ? trace.steps[cursor - 1] : undefined;
  const table = $<HTMLTableElement>('dbg-regs');
  table.textContent = '';
  step.regs.forEach((v, r) => {
    const row = table.insertRow();
    row.insertCell().textContent = `r${r}`;
    const cell = row.insertCell();
    cell.className = 'mono';
    cell.dataset['reg'] = String(r);
    cell.dataset['value'] = `0x${v.toString(16)}`;
    cell.textContent = fmtReg(v);
    if (prev && prev.regs[r] !== v) cell.classList.add('changed');
  });
  // the frame's rows with something in them
  const rows: string[] = [];
  for (let o = 0; o < 512; o += 16) {
    const row = step.stack.subarray(o, o + 16);
    if (row.some((b) => b !== 0)) rows.push(`r10-${512 - o}`.padEnd(8) + Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' '));
  }
  $('dbg-stack').textContent = rows.length ? rows.join('\n') : '(all zero)';
  const mapsBox = $('dbg-maps');
  mapsBox.textContent = '';
  for (const [name, entries] of step.maps) {
    const pre = document.createElement('pre');
    const changed = prev !== undefined && prev.maps !== step.maps;
    // an array's untouched (all-zero) entries would drown the ones that matter
    const shown = entries.filter(([, , zero]) => !zero);
    const hidden = entries.length - shown.length;
    pre.textContent = `${name}${changed ? ' (changed)' : ''}:\n` + (shown.length ? shown.map(([k, v]) => `  ${k}: ${v}`).join('\n') : '  (no entry with a non-zero value)') + (hidden ? `\n  (${hidden} all-zero entr${hidden === 1 ? 'y' : 'ies'} not shown)` : '');
    mapsBox.appendChild(pre);
  }
  const failing = session?.verdict && !session.verdict.ok ? undefined : undefined;
  markEditor(failing, atEnd ? undefined : session?.slotLine.get(step.pc));
}

function debugNext(): void {
  if (!trace) startDebugger();
  else if (cursor < trace.steps.length) cursor++;
  renderStep();
}

function debugBack(): void {
  if (!trace) return;
  if (cursor > 0) cursor--;
  renderStep();
}

function debugContinue(): void {
  if (!trace) startDebugger();
  if (!trace) return;
  let i = cursor + 1;
  while (i < trace.steps.length && !breakpoints.has(trace.steps[i]!.pc)) i++;
  cursor = Math.min(i, trace.steps.length);
  renderStep();
}

// ------------------------------------------------------------------ page state, URL, examples

function base64url(bytes: Uint8Array): string {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text: string): Uint8Array {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** The page's state as a URL fragment. */
function fragment(): string {
  const p = new URLSearchParams();
  if (state.kind === 'object' && state.object) {
    p.set('obj', base64url(state.object));
    if (state.section) p.set('section', state.section);
  } else {
    p.set('prog', base64url(new TextEncoder().encode(state.text)));
    if (state.kind !== 'asm') p.set('kind', state.kind);
  }
  if (state.data) p.set('data', state.data.replace(/\s+/g, ''));
  p.set('profile', state.profile);
  if (state.kind !== 'object') p.set('type', state.type);
  if (state.logLevel === 1) p.set('log', '1');
  return p.toString();
}

/** Apply a fragment; false when it carries no program. */
function applyFragment(hash: string): boolean {
  const p = new URLSearchParams(hash.replace(/^#/, ''));
  const prog = p.get('prog');
  const obj = p.get('obj');
  if (prog === null && obj === null) return false;
  try {
    if (obj !== null) {
      state.kind = 'object';
      state.object = fromBase64url(obj);
      state.objectName = 'shared.o';
      state.section = p.get('section') ?? undefined;
    } else {
      state.kind = (['asm', 'classic', 'expr'].includes(p.get('kind') ?? '') ? p.get('kind') : 'asm') as Kind;
      state.text = new TextDecoder().decode(fromBase64url(prog!));
    }
  } catch {
    $('status').textContent = 'the link\'s program is not valid base64url';
    return false;
  }
  state.data = p.get('data') ?? '';
  state.profile = p.get('profile') === 'modern' ? 'modern' : '3.19';
  state.type = p.get('type') ?? 'socket_filter';
  state.logLevel = p.get('log') === '1' ? 1 : 2;
  writeControls();
  return true;
}

function readControls(): void {
  state.kind = $<HTMLSelectElement>('kind').value as Kind;
  state.profile = $<HTMLSelectElement>('profile').value as ProfileName;
  state.type = $<HTMLSelectElement>('type').value;
  state.data = $<HTMLTextAreaElement>('data').value;
  state.logLevel = $<HTMLSelectElement>('log-level').value === '1' ? 1 : 2;
  state.text = editor.state.doc.toString();
  const sec = $<HTMLSelectElement>('section');
  if (state.kind === 'object' && !sec.hidden && sec.value) state.section = sec.value;
}

/** The object's programs in the section selector; its info line. */
function renderObjectInfo(): void {
  const sec = $<HTMLSelectElement>('section');
  const info = $('object-info');
  const isObj = state.kind === 'object';
  $('editor').hidden = isObj;
  info.hidden = !isObj;
  sec.hidden = true;
  if (!isObj) return;
  if (!state.object) {
    info.textContent = 'Open a clang -target bpf object (.o) with the button above, or drop it on the page.';
    return;
  }
  try {
    const spec = loadCollectionSpec(state.object);
    const progs = Object.values(spec.programs);
    sec.textContent = '';
    for (const p of progs) sec.appendChild(Object.assign(document.createElement('option'), { value: p.name, textContent: `${p.name} (SEC "${p.section}", ${p.type})` }));
    if (state.section && progs.some((p) => p.name === state.section)) sec.value = state.section;
    else state.section = progs[0]?.name;
    sec.hidden = progs.length < 2;
    info.textContent = `${state.objectName ?? 'object'}: ${state.object.length} bytes, ${progs.length} program${progs.length === 1 ? '' : 's'} (${progs.map((p) => p.name).join(', ')}), maps: ${Object.keys(spec.maps).join(', ') || 'none'}, license ${spec.license}`;
  } catch (e) {
    info.textContent = `not a usable object: ${(e as Error).message}`;
  }
}

function writeControls(): void {
  $<HTMLSelectElement>('kind').value = state.kind;
  $<HTMLSelectElement>('profile').value = state.profile;
  fillTypes();
  $<HTMLSelectElement>('type').value = state.type;
  $<HTMLTextAreaElement>('data').value = state.data;
  $<HTMLSelectElement>('log-level').value = String(state.logLevel);
  if (state.kind !== 'object') setEditorText(state.text);
  $('source-title').textContent = { asm: 'eBPF assembly', classic: 'Classic BPF (tcpdump -dd)', expr: 'tcpdump expression', object: 'clang object' }[state.kind];
  renderObjectInfo();
}

function fillTypes(): void {
  const sel = $<HTMLSelectElement>('type');
  const current = state.type;
  sel.textContent = '';
  for (const t of PROG_TYPES) {
    const o = Object.assign(document.createElement('option'), { value: t.name, textContent: t.label });
    if (!t.profiles.includes(state.profile)) o.textContent += ' (modern profile)';
    sel.appendChild(o);
  }
  sel.value = current;
  sel.disabled = state.kind === 'object' || state.kind === 'expr' || state.kind === 'classic';
}

function loadExample(ex: Example): void {
  state.kind = ex.kind;
  state.profile = ex.profile;
  state.type = ex.type;
  state.text = ex.text;
  state.data = ex.data;
  state.object = undefined;
  writeControls();
  verifyAndRun();
}

// ------------------------------------------------------------------ files

const PCAP_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];

async function openFile(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const magic = bytes.length >= 4 ? new DataView(bytes.buffer).getUint32(0, false) : 0;
  if (bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46) {
    state.kind = 'object';
    state.object = bytes;
    state.objectName = file.name;
    state.section = undefined;
    writeControls();
    verifyAndRun();
  } else if (PCAP_MAGICS.includes(magic)) {
    capture = { name: file.name, bytes };
    $('capture-name').textContent = `${file.name}, ${bytes.length} bytes`;
    showTab('run');
    if (session?.prog) runCapture();
    else verifyAndRun();
  } else {
    $('status').textContent = `${file.name}: neither a clang .o (ELF) nor a pcap/pcapng capture`;
  }
}

// ------------------------------------------------------------------ tabs, theme, keys

function showTab(name: string): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('.tabs button')) b.classList.toggle('active', b.dataset['tab'] === name);
  for (const t of document.querySelectorAll<HTMLElement>('.tab')) t.hidden = t.id !== `tab-${name}`;
}

function setTheme(theme: 'light' | 'dark'): void {
  document.documentElement.dataset['theme'] = theme;
  try {
    localStorage.setItem('tsbpf-theme', theme);
  } catch {
    // file:// pages may have no storage
  }
}

function init(): void {
  const exSel = $<HTMLSelectElement>('example');
  exSel.appendChild(Object.assign(document.createElement('option'), { value: '', textContent: '(pick an example)' }));
  for (const ex of EXAMPLES) exSel.appendChild(Object.assign(document.createElement('option'), { value: ex.id, textContent: ex.title }));
  exSel.addEventListener('change', () => {
    const ex = EXAMPLES.find((e) => e.id === exSel.value);
    if (ex) loadExample(ex);
  });
  // each input kind keeps its own text: switching to a tcpdump expression shows one, not the assembly
  const texts: Partial<Record<Kind, string>> = {
    asm: EXAMPLES.find((e) => e.kind === 'asm')!.text,
    classic: EXAMPLES.find((e) => e.kind === 'classic')!.text,
    expr: EXAMPLES.find((e) => e.kind === 'expr')!.text,
  };
  $('kind').addEventListener('change', () => {
    // state.kind is still the kind before the change
    if (state.kind !== 'object') texts[state.kind] = editor.state.doc.toString();
    readControls();
    if (state.kind !== 'object') {
      state.text = texts[state.kind] ?? '';
      if (state.kind !== 'asm') state.type = 'socket_filter';
    }
    writeControls();
    verifyAndRun();
  });
  $('profile').addEventListener('change', () => {
    readControls();
    fillTypes();
    verifyAndRun();
  });
  $('type').addEventListener('change', () => verifyAndRun());
  $('log-level').addEventListener('change', () => verifyAndRun());
  $('section').addEventListener('change', () => verifyAndRun());
  $('data').addEventListener('change', () => verifyAndRun());
  $('run').addEventListener('click', () => verifyAndRun());
  $('share').addEventListener('click', () => {
    readControls();
    const url = `${location.href.replace(/#.*$/, '')}#${fragment()}`;
    window.history.replaceState(null, '', url);
    navigator.clipboard?.writeText(url).catch(() => undefined);
    $('status').textContent = `link to this state (in the address bar, and copied): ${url.length} characters`;
  });
  $('theme').addEventListener('click', () => setTheme(document.documentElement.dataset['theme'] === 'dark' ? 'light' : 'dark'));
  $('pk-make').addEventListener('click', () => {
    try {
      const bytes = buildPacket({
        proto: $<HTMLSelectElement>('pk-proto').value as 'tcp' | 'udp' | 'icmp',
        src: $<HTMLInputElement>('pk-src').value, dst: $<HTMLInputElement>('pk-dst').value,
        sport: Number($<HTMLInputElement>('pk-sport').value), dport: Number($<HTMLInputElement>('pk-dport').value),
        flags: Number($<HTMLSelectElement>('pk-flags').value), payload: Number($<HTMLInputElement>('pk-len').value),
      });
      $<HTMLTextAreaElement>('data').value = toHex(bytes);
      verifyAndRun();
    } catch (e) {
      $('status').textContent = (e as Error).message;
    }
  });
  $('compare').addEventListener('click', compareEngines);
  $('file').addEventListener('change', () => {
    const f = $<HTMLInputElement>('file').files?.[0];
    if (f) void openFile(f);
  });
  document.addEventListener('dragover', (e) => e.preventDefault());
  document.addEventListener('drop', (e) => {
    e.preventDefault();
    const f = e.dataTransfer?.files[0];
    if (f) void openFile(f);
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>('.tabs button')) b.addEventListener('click', () => showTab(b.dataset['tab']!));
  $('dbg-start').addEventListener('click', () => {
    startDebugger();
    showTab('debug');
  });
  $('dbg-next').addEventListener('click', debugNext);
  $('dbg-back').addEventListener('click', debugBack);
  $('dbg-cont').addEventListener('click', debugContinue);
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') {
      e.preventDefault();
      verifyAndRun();
    } else if (e.key === 'F10') {
      e.preventDefault();
      showTab('debug');
      if (e.shiftKey) debugBack();
      else debugNext();
    } else if (e.key === 'F8') {
      e.preventDefault();
      showTab('debug');
      debugContinue();
    }
  });
  window.addEventListener('hashchange', () => {
    if (applyFragment(location.hash)) verifyAndRun();
  });
  let theme: string | null = null;
  try {
    theme = localStorage.getItem('tsbpf-theme');
  } catch {
    theme = null;
  }
  setTheme(theme === 'dark' || theme === 'light' ? theme : matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
  if (applyFragment(location.hash)) verifyAndRun();
  else loadExample(EXAMPLES[0]!);
  document.body.dataset['ready'] = '1';
}

init();
