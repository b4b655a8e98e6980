import { registerEnumType } from 'type-graphql';

export enum Protocol {
  TCP = 'TCP',
  UDP = 'UDP',
  TCP_UDP = 'TCP_UDP',
}

registerEnumType(Protocol, {
  name: 'Protocol',
  description: 'Transport protocol a port rule forwards. TCP_UDP overlaps both TCP and UDP.',
  valuesConfig: {
    TCP: { description: 'TCP only (VyOS `tcp`).' },
    UDP: { description: 'UDP only (VyOS `udp`).' },
    TCP_UDP: { description: 'Both TCP and UDP (VyOS `tcp_udp`); claims the external port for both.' },
  },
});

/** Which of the two port claims a protocol holds: TCP_UDP takes both (design.md "Unique"). */
export function claims(protocol: Protocol): { tcp: boolean; udp: boolean } {
  return { tcp: protocol !== Protocol.UDP, udp: protocol !== Protocol.TCP };
}
