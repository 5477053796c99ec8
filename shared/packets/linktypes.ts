// The link-layer types a capture can carry (tcpdump.org/linktypes.html) that the dissector reads:
// Ethernet for host and veth interfaces, RAW for tunl0 and TUN devices, Linux cooked (SLL/SLL2)
// for `tcpdump -i any`, NULL for BSD loopback files.
export const LinkType = {
  Null: 0,
  Ethernet: 1,
  Raw: 101,
  LinuxSll: 113,
  Ipv4: 228,
  LinuxSll2: 276,
} as const;

export function linkTypeName(linkType: number): string {
  switch (linkType) {
    case LinkType.Null: return 'NULL';
    case LinkType.Ethernet: return 'EN10MB';
    case LinkType.Raw: return 'RAW';
    case LinkType.LinuxSll: return 'LINUX_SLL';
    case LinkType.Ipv4: return 'IPV4';
    case LinkType.LinuxSll2: return 'LINUX_SLL2';
    default: return `LINKTYPE_${linkType}`;
  }
}
