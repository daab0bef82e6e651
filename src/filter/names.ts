/**
 * The names of the pcap-filter language that stand for numbers: service
 * names (a built-in table in place of /etc/services, so that a browser
 * compiles the same programs as Node), IP protocol names (in place of
 * /etc/protocols), and the constants the scanner turns into numbers
 * (`tcpflags`, `tcp-syn`, `icmptype`, `icmp-echo`, `icmp6type`, ...), as
 * pcap-filter(7) lists them. Which protocols a service is registered for
 * decides what `port NAME` checks, as libpcap does: a service known for tcp
 * only makes `port NAME` a tcp port test, one known for both tcp and udp
 * leaves the protocol open (tcp, udp or sctp).
 */

/** Which transport protocols a service is registered for (as Debian's /etc/services has it). */
export type ServiceProto = 'tcp' | 'udp' | 'both';

/** name -> [port, protocols] */
export const SERVICES: ReadonlyMap<string, readonly [number, ServiceProto]> = new Map<string, readonly [number, ServiceProto]>([
  ['echo', [7, 'both']], ['discard', [9, 'both']], ['daytime', [13, 'both']], ['ftp-data', [20, 'tcp']],
  ['ftp', [21, 'tcp']], ['ssh', [22, 'tcp']], ['telnet', [23, 'tcp']], ['smtp', [25, 'tcp']],
  ['time', [37, 'both']], ['whois', [43, 'tcp']], ['domain', [53, 'both']], ['bootps', [67, 'udp']],
  ['bootpc', [68, 'udp']], ['tftp', [69, 'udp']], ['gopher', [70, 'tcp']], ['finger', [79, 'tcp']],
  ['http', [80, 'tcp']], ['www', [80, 'tcp']], ['kerberos', [88, 'both']], ['pop3', [110, 'tcp']],
  ['sunrpc', [111, 'both']], ['auth', [113, 'tcp']], ['nntp', [119, 'tcp']], ['ntp', [123, 'udp']],
  ['epmap', [135, 'tcp']], ['netbios-ns', [137, 'udp']], ['netbios-dgm', [138, 'udp']],
  ['netbios-ssn', [139, 'tcp']], ['imap2', [143, 'tcp']], ['imap', [143, 'tcp']], ['snmp', [161, 'both']], ['snmp-trap', [162, 'both']],
  ['bgp', [179, 'tcp']], ['ldap', [389, 'both']], ['https', [443, 'both']], ['microsoft-ds', [445, 'tcp']],
  ['isakmp', [500, 'udp']], ['login', [513, 'tcp']], ['shell', [514, 'tcp']], ['syslog', [514, 'udp']],
  ['printer', [515, 'tcp']], ['submission', [587, 'tcp']], ['ipp', [631, 'tcp']], ['ldaps', [636, 'both']],
  ['rsync', [873, 'tcp']], ['imaps', [993, 'tcp']], ['pop3s', [995, 'tcp']], ['openvpn', [1194, 'both']],
  ['nfs', [2049, 'both']], ['mysql', [3306, 'tcp']], ['ms-wbt-server', [3389, 'tcp']], ['sip', [5060, 'both']],
  ['xmpp-client', [5222, 'tcp']], ['postgresql', [5432, 'tcp']], ['x11', [6000, 'tcp']], ['http-alt', [8080, 'tcp']],
]);

/** IP protocol names for `ip proto \NAME` and `proto \NAME` (numbers from the IANA registry). */
export const IP_PROTOCOLS: ReadonlyMap<string, number> = new Map([
  ['ip', 0], ['icmp', 1], ['igmp', 2], ['ipencap', 4], ['tcp', 6], ['egp', 8], ['igp', 9], ['pup', 12], ['udp', 17],
  ['idp', 22], ['ipv6', 41], ['ipv6-route', 43], ['ipv6-frag', 44], ['rsvp', 46], ['gre', 47], ['esp', 50],
  ['ah', 51], ['ipv6-icmp', 58], ['icmp6', 58], ['ipv6-nonxt', 59], ['ipv6-opts', 60], ['ospf', 89],
  ['ipip', 94], ['pim', 103], ['vrrp', 112], ['l2tp', 115], ['sctp', 132], ['udplite', 136],
]);

/** Words the scanner reads as numbers (pcap-filter(7): tcpflags, icmptype, icmp6type and their values). */
export const NAMED_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['icmptype', 0], ['icmpcode', 1], ['icmp-echoreply', 0], ['icmp-unreach', 3], ['icmp-sourcequench', 4],
  ['icmp-redirect', 5], ['icmp-echo', 8], ['icmp-routeradvert', 9], ['icmp-routersolicit', 10],
  ['icmp-timxceed', 11], ['icmp-paramprob', 12], ['icmp-tstamp', 13], ['icmp-tstampreply', 14],
  ['icmp-ireq', 15], ['icmp-ireqreply', 16], ['icmp-maskreq', 17], ['icmp-maskreply', 18],
  ['icmp6type', 0], ['icmp6code', 1], ['icmp6-destinationunreach', 1], ['icmp6-packettoobig', 2],
  ['icmp6-timeexceeded', 3], ['icmp6-parameterproblem', 4], ['icmp6-echo', 128], ['icmp6-echoreply', 129],
  ['icmp6-multicastlistenerquery', 130], ['icmp6-multicastlistenerreportv1', 131],
  ['icmp6-multicastlistenerdone', 132], ['icmp6-routersolicit', 133], ['icmp6-routeradvert', 134],
  ['icmp6-neighborsolicit', 135], ['icmp6-neighboradvert', 136], ['icmp6-redirect', 137],
  ['icmp6-routerrenum', 138], ['icmp6-nodeinformationquery', 139], ['icmp6-nodeinformationresponse', 140],
  ['icmp6-ineighbordiscoverysolicit', 141], ['icmp6-ineighbordiscoveryadvert', 142],
  ['icmp6-multicastlistenerreportv2', 143], ['icmp6-homeagentdiscoveryrequest', 144],
  ['icmp6-homeagentdiscoveryreply', 145], ['icmp6-mobileprefixsolicit', 146], ['icmp6-mobileprefixadvert', 147],
  ['icmp6-certpathsolicit', 148], ['icmp6-certpathadvert', 149], ['icmp6-multicastrouteradvert', 151],
  ['icmp6-multicastroutersolicit', 152], ['icmp6-multicastrouterterm', 153],
  ['tcpflags', 13], ['tcp-fin', 0x01], ['tcp-syn', 0x02], ['tcp-rst', 0x04], ['tcp-push', 0x08],
  ['tcp-ack', 0x10], ['tcp-urg', 0x20], ['tcp-ece', 0x40], ['tcp-cwr', 0x80],
]);

/** Protocol qualifiers (the grammar's `pname`), by keyword; `ether` and its synonyms are the link layer. */
export const PROTO_KEYWORDS: ReadonlyMap<string, string> = new Map([
  ['link', 'link'], ['ether', 'link'], ['ppp', 'link'], ['slip', 'link'], ['fddi', 'link'], ['tr', 'link'], ['wlan', 'link'],
  ['ip', 'ip'], ['ip6', 'ip6'], ['arp', 'arp'], ['rarp', 'rarp'], ['tcp', 'tcp'], ['udp', 'udp'], ['sctp', 'sctp'],
  ['icmp', 'icmp'], ['icmp6', 'icmp6'], ['igmp', 'igmp'], ['igrp', 'igrp'], ['pim', 'pim'], ['vrrp', 'vrrp'], ['carp', 'carp'],
  ['ah', 'ah'], ['esp', 'esp'],
]);

/** Keywords of libpcap's language this compiler does not implement: refused by name rather than misread as names. */
export const UNSUPPORTED_KEYWORDS: ReadonlySet<string> = new Set([
  'gateway', 'protochain', 'atalk', 'aarp', 'decnet', 'lat', 'sca', 'moprc', 'mopdl', 'iso', 'esis', 'es-is', 'isis',
  'is-is', 'l1', 'l2', 'iih', 'lsp', 'snp', 'csnp', 'psnp', 'clnp', 'stp', 'ipx', 'netbeui', 'radio', 'inbound',
  'outbound', 'ifindex', 'geneve', 'vxlan', 'lane', 'llc', 'metac', 'bcc', 'oam',
  'oamf4', 'oamf4ec', 'oamf4sc', 'sc', 'ilmic', 'vpi', 'vci', 'connectmsg', 'metaconnect', 'on', 'ifname', 'rnr',
  'rulenum', 'srnr', 'subrulenum', 'reason', 'rset', 'ruleset', 'action', 'type', 'subtype', 'dir', 'direction',
  'addr1', 'address1', 'addr2', 'address2', 'addr3', 'address3', 'addr4', 'address4', 'ra', 'ta', 'fisu', 'lssu',
  'msu', 'hfisu', 'hlssu', 'hmsu', 'sio', 'opc', 'dpc', 'sls', 'hsio', 'hopc', 'hdpc', 'hsls', 'byte',
]);

/** The other keywords of the grammar. */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'src', 'dst', 'host', 'net', 'mask', 'port', 'portrange', 'proto', 'broadcast', 'multicast', 'less', 'greater',
  'len', 'vlan', 'mpls', 'pppoes', 'pppoed', 'and', 'or', 'not',
]);
