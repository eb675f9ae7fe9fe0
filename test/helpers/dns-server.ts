// A tiny authoritative DNS server over UDP on loopback, for discovery tests: it answers
// A and AAAA queries from a mutable table. Unknown names get NXDOMAIN, a known name
// without records of the asked type gets an empty NOERROR answer (ENODATA for the
// client), and `failing` turns every answer into SERVFAIL.
import dgram from 'node:dgram';
import { isIPv4, isIPv6 } from 'node:net';

const TYPE_A = 1;
const TYPE_AAAA = 28;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

export interface DnsRecords {
  A?: string[];
  AAAA?: string[];
}

export interface TestDnsServer {
  /** 127.0.0.1:port, ready for Resolver.setServers. */
  readonly address: string;
  readonly records: Map<string, DnsRecords>;
  failing: boolean;
  queries: number;
  close(): Promise<void>;
}

export async function startDnsServer(records: Record<string, DnsRecords> = {}): Promise<TestDnsServer> {
  const socket = dgram.createSocket('udp4');
  const server: TestDnsServer = {
    address: '',
    records: new Map(Object.entries(records).map(([name, value]) => [name.toLowerCase(), value])),
    failing: false,
    queries: 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('message', (query, peer) => {
    const answer = respond(server, query);
    if (answer) socket.send(answer, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  (server as { address: string }).address = `127.0.0.1:${socket.address().port}`;
  return server;
}

function respond(server: TestDnsServer, query: Buffer): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined;
  server.queries++;
  // The question: length-prefixed labels up to a zero byte, then type and class.
  const labels: string[] = [];
  let offset = 12;
  while (query[offset] !== 0) {
    const length = query[offset];
    labels.push(query.toString('latin1', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  const questionEnd = offset + 5;
  const type = query.readUInt16BE(offset + 1);
  const entry = server.records.get(labels.join('.').toLowerCase());

  let rcode = 0;
  let rdatas: Buffer[] = [];
  if (server.failing) rcode = RCODE_SERVFAIL;
  else if (!entry) rcode = RCODE_NXDOMAIN;
  else if (type === TYPE_A) rdatas = (entry.A ?? []).filter((ip) => isIPv4(ip)).map(ipv4Bytes);
  else if (type === TYPE_AAAA) rdatas = (entry.AAAA ?? []).filter((ip) => isIPv6(ip)).map(ipv6Bytes);

  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // id
  const flags = query.readUInt16BE(2);
  // QR, the query's opcode and RD, authoritative, recursion available, rcode.
  header.writeUInt16BE(0x8000 | (flags & 0x7800) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rdatas.length, 6);
  const answers = rdatas.map((rdata) => {
    const record = Buffer.alloc(12);
    record.writeUInt16BE(0xc00c, 0); // name: pointer to the question's name
    record.writeUInt16BE(type, 2);
    record.writeUInt16BE(1, 4); // class IN
    record.writeUInt32BE(1, 6); // TTL (discovery ignores it)
    record.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([record, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split('.').map(Number));
}

function ipv6Bytes(ip: string): Buffer {
  const [head, tail = ''] = ip.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups]
    : headGroups;
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  });
  return bytes;
}
