/**
 * The layout of a compiled program's WebAssembly module, shared by the code
 * generator (compile.ts, hardened.ts) and the JavaScript side that runs it
 * (program.ts): the locals every function numbers alike, the words of the
 * scratch area (register file, fault word, stop flag, shared fuel), the
 * globals, and the type and function indexes. This file holds numbers only.
 */

export const P_R1 = 0;
export const P_R2 = 1;
export const P_PKT = 2;
export const P_LEN = 3;
export const P_NET = 4;
export const REG0 = 5;
export const T0 = 16;
export const T1 = 17;
export const K = 18;
export const A = 19;
/** dispatch mode: the basic block to run next, and the fuel left */
export const PC = 20;
export const FUEL = 21;
/** dispatches (taken jumps) allowed per run of a program with backward jumps */
export const JIT_LOOP_BUDGET = 10_000_000;
/** scratch offset of the fault word: why a run stopped early (FAULT_*), 0 when it did not */
export const FUEL_FLAG = 8 * 15;
export const FAULT_FUEL = 1;
export const FAULT_DEPTH = 2;
/** scratch offset of the pc a fault happened at */
export const FAULT_PC = 8 * 14;
/**
 * scratch offset of the batch run word: a batch stores the index of the run
 * it starts there, so that the helpers it calls follow that run's input
 * (JitProgram.execBatch with inputs)
 */
export const BATCH_RUN = 8 * 11;
/**
 * scratch offset of the frame word: 1 when the run has the packet frame the
 * inline frame helpers expect (JitOptions.frame), its context being r1 as
 * the run began; 0 sends every frame helper to JavaScript
 */
export const FRAME_OK = 8 * 11 + 4;
/**
 * scratch offset of the CPU word: the run's simulated CPU, for the inline
 * lookups of per-CPU maps (JitProgram writes it before each run or batch)
 */
export const CPU_WORD = 8 * 12;
/** scratch offset of the stop flag: set when a subprogram ends the whole program */
export const STOP_FLAG = 8 * 15 + 4;
/**
 * Programs with callbacks (bpf_loop, bpf_for_each_map_elem): before each
 * helper call the code stores here the run's five entry parameters (P_R1..
 * P_NET, i32 each) and the pc of the call, so that the callback entry
 * (callbackFunction) starts a callback with the run's inputs and the
 * JavaScript side names the pc in its errors. Past the 128 bytes of the
 * register file; SCRATCH_BYTES is the scratch area's whole size.
 */
export const CB_PARAMS = 8 * 16;
/** the scratch area of a program that cannot call back: the register file and the words above */
export const REGISTER_FILE_BYTES = 8 * 16;
export const CB_PC = CB_PARAMS + 4 * 5;
/**
 * the keys bpf_for_each_map_elem walks in WebAssembly give its callbacks: a
 * u32 per depth of the caller (MAX_CALL_FRAMES of them), so that nested
 * walks keep their own
 */
export const CB_KEYS = CB_PC + 4;
export const SCRATCH_BYTES = CB_KEYS + 4 * 8;
/** scratch offset of the fuel shared by the functions of a program with local calls */
export const FUEL_WORD = 8 * 13;
/** batch mode's locals: the descriptors, their count, the run, its descriptor */
export const B_DESC = 22;
export const B_N = 23;
export const B_I = 24;
export const B_D = 25;
/** the batch's frame kinds (0: none), an i32 local after the others (and after hardened mode's i64s) */
export const B_FRAMES = 26;
/** hardened mode's i64 locals: the effective address, a map offset, the frame's low bound and its span to STACK_TOP */
export const EA = 26;
export const MT = 27;
export const FRAME_LO = 28;
export const FRAME_SPAN = 29;
/** hardened mode's i64 locals 30..35: the run's region globals (G_A_LO..), copied at function entry */
export const REGION_LOCALS = 30;

/** Globals: the call depth (frames below the entry), then hardened mode's run regions A and B: low bound, end, low bound for writes. */
export const G_DEPTH = 0;
export const G_A_LO = 1;
export const G_B_LO = 4;
/** offsets from a region's first global */
export const R_LO = 0;
export const R_END = 1;
export const R_LOW = 2;
/**
 * The low bound of an absent region (or of a read-only one, for writes):
 * no address lies between it and end - size, as end is then NO_REGION_END
 * (above any access size: a map key is at most 512 bytes) or a real address
 * below 2^32 (see setRegionsFunction).
 */
export const NO_REGION = 0x7fffffffffffffffn;
export const NO_REGION_END = 1 << 20;

/** Type indexes of the module (see the `types` of compileToWasm's encodeModule, compile.ts). */
export const TYPE_SUB = 4;
export const TYPE_HELPER_HARDENED = 5;
export const TYPE_FAULT = 6;
export const TYPE_CHECK_MAPS = 7;
/** callback(sel): run callback number `sel` of the program (see CB_PARAMS) */
export const TYPE_CALLBACK = 8;
/** Function indexes: the imports (helper trampoline, access fault), then run, packet offset, batch, the subprograms. */
export const F_HELPER = 0;
export const F_FAULT = 1;
export const F_RUN = 2;
export const F_PKT_OFFSET = 3;
export const F_BATCH = 4;
export const FIRST_SUB = 5;

/** bpf_map_lookup_elem's helper id */
export const BPF_FUNC_MAP_LOOKUP_ELEM = 1;
/** the ids of the other helpers the JIT inlines: bpf_map_update_elem, bpf_skb_store_bytes, bpf_skb_load_bytes */
export const BPF_FUNC_MAP_UPDATE_ELEM = 2;
export const BPF_FUNC_SKB_STORE_BYTES = 9;
export const BPF_FUNC_SKB_LOAD_BYTES = 26;
/** bpf_loop's id, and its most iterations (1 << 23; more is -E2BIG), for the loop the JIT runs in WebAssembly */
export const BPF_FUNC_LOOP = 181;
export const BPF_MAX_LOOPS = 1 << 23;
/** bpf_for_each_map_elem's id */
export const BPF_FUNC_FOR_EACH_MAP_ELEM = 164;
