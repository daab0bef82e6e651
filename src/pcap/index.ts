/**
 * Capture files (`tsbpf/pcap`): read pcap and pcapng from bytes or streams,
 * write pcap, summarise packets tcpdump-style. Reading by path is file.ts's,
 * exported by `tsbpf/node` only: nothing here imports Node.
 */
export { readCapture, parseCapture, CaptureIterator, CaptureStream, MAX_RECORD } from './reader.js';
export type { Packet, CaptureInfo, InterfaceInfo, CaptureSource, ReadableStreamLike } from './reader.js';
export { PcapWriter, writePcap } from './writer.js';
export type { PcapWriterOptions, PcapRecordInput } from './writer.js';
export { summarize, formatIpv4, formatIpv6, formatMac } from './summary.js';
export { LINKTYPE, ETHERTYPE, networkOffset, linkHeader, isRawIp } from './linktype.js';
