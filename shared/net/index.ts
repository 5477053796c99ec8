export * from './ipv4.ts';
export * from './cidr.ts';
export * from './cross-subnet.ts';
export * from './calico-names.ts';
export * from './mtu.ts';
