/** Capture files: read pcap and pcapng, write pcap, summarise packets tcpdump-style. */
export { readCapture, parseCapture, CaptureIterator, CaptureStream, MAX_RECORD } from './reader.js';
export type { Packet, CaptureInfo, InterfaceInfo, CaptureSource, ReadOptions } from './reader.js';
export { PcapWriter, writePcap } from './writer.js';
export type { PcapWriterOptions, PcapRecordInput } from './writer.js';
export { summarize, formatIpv4, formatIpv6, formatMac } from './summary.js';
export { LINKTYPE, ETHERTYPE, networkOffset, linkHeader, isRawIp } from './linktype.js';
