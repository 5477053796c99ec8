// Gingham's own throughput and latency test, so that nothing has to be installed in pods: one TCP
// port serves both tests, and the client's first byte says which.
//   'S' (stream): the client sends as fast as it can until it closes its side; the server then
//       answers with what it received and in how long, as JSON, and closes.
//   'R' (request/response, as netperf's TCP_RR): each byte the client sends is answered with one
//       byte; the client times each round trip.
// The server counts from the first data byte to the client's FIN, so the figure is the receiver's,
// as iperf3 reports its receiver line. The port is the contract's (shared/api/measurement.ts).
export const streamMode = 0x53; // 'S'
export const requestResponseMode = 0x52; // 'R'

export interface StreamReport {
  bytes: number;
  seconds: number;
}
