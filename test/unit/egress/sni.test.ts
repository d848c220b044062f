// The ClientHello parser: real hellos from Node's TLS client, split every way TCP may split them,
// and malformed ones that must be refused rather than read as "no server name".
import { describe, expect, it } from 'vitest';
import { parseClientHello } from '../../../src/egress/index.js';
import { captureClientHello, clientHelloMessage, handshakeOf, inRecords } from './client-hello-fixture.js';

describe('parseClientHello on real ClientHellos', () => {
  it('reads the server name Node sends', async () => {
    const hello = await captureClientHello('allowed.test');
    expect(parseClientHello(hello)).toEqual({ status: 'complete', serverName: 'allowed.test' });
  });

  it('reads no server name when the client connects to an address', async () => {
    const hello = await captureClientHello();
    expect(parseClientHello(hello)).toEqual({ status: 'complete', serverName: null });
  });

  it('needs more bytes for every strict prefix, and ignores bytes after the hello', async () => {
    const hello = await captureClientHello('api.github.com');
    for (let cut = 0; cut < hello.length; cut++) {
      expect(parseClientHello(hello.subarray(0, cut))).toEqual({ status: 'incomplete' });
    }
    const withEarlyData = Buffer.concat([hello, Buffer.from([23, 3, 3, 0, 1, 0])]);
    expect(parseClientHello(withEarlyData)).toEqual({ status: 'complete', serverName: 'api.github.com' });
  });

  it('reassembles a hello split over several TLS records', async () => {
    const message = handshakeOf(await captureClientHello('allowed.test'));
    for (const size of [1, 3, 100]) {
      const records = inRecords(message, size);
      expect(parseClientHello(records)).toEqual({ status: 'complete', serverName: 'allowed.test' });
      expect(parseClientHello(records.subarray(0, records.length - 1))).toEqual({ status: 'incomplete' });
    }
  });
});

describe('parseClientHello on hand-made hellos', () => {
  const parse = (message: Buffer) => parseClientHello(inRecords(message));

  it('reads a minimal hello with and without extensions', () => {
    expect(parse(clientHelloMessage({ serverNames: ['a.test'] }))).toEqual({ status: 'complete', serverName: 'a.test' });
    expect(parse(clientHelloMessage({ extensions: [[43, Buffer.from([2, 3, 4])]] }))).toEqual({ status: 'complete', serverName: null });
    expect(parse(clientHelloMessage({ noExtensions: true }))).toEqual({ status: 'complete', serverName: null });
  });

  it('accepts a hello near the 16 KiB limit and refuses a larger one', () => {
    const padding = (n: number): Array<[number, Buffer]> => [[21, Buffer.alloc(n)]];
    const near = clientHelloMessage({ serverNames: ['a.test'], extensions: padding(16 * 1024 - 100) });
    expect(parse(near)).toEqual({ status: 'complete', serverName: 'a.test' });
    const over = clientHelloMessage({ serverNames: ['a.test'], extensions: padding(16 * 1024) });
    expect(parse(over)).toMatchObject({ status: 'invalid', reason: 'ClientHello too large' });
  });

  const invalid: Array<[string, string, () => Buffer]> = [
    ['plain HTTP', 'not a TLS handshake record', () => Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n\r\n')],
    ['an application data record', 'not a TLS handshake record', () => Buffer.from([23, 3, 3, 0, 5, 1, 2, 3, 4, 5])],
    ['a ServerHello', 'first handshake message is not a ClientHello', () => inRecords(Buffer.concat([Buffer.from([2]), clientHelloMessage().subarray(1)]))],
    ['an SSLv2-style record version', 'unknown TLS record version', () => Buffer.concat([Buffer.from([22, 2, 0]), inRecords(clientHelloMessage()).subarray(3)])],
    ['a record longer than 16 KiB', 'bad TLS record length 16385', () => Buffer.from([22, 3, 1, 0x40, 0x01])],
    ['a zero-length record', 'bad TLS record length 0', () => Buffer.from([22, 3, 1, 0, 0])],
    [
      'two server_name extensions',
      'extension 0 appears twice',
      () => inRecords(clientHelloMessage({ serverNames: ['a.test'], extensions: [[0, Buffer.from([0, 9, 0, 0, 6, ...Buffer.from('b.test')])]] })),
    ],
    ['two host names', 'more than one host name', () => inRecords(clientHelloMessage({ serverNames: ['a.test', 'b.test'] }))],
    ['an empty server name list', 'empty server name list', () => inRecords(clientHelloMessage({ extensions: [[0, Buffer.from([0, 0])]] }))],
    ['an empty server_name extension', 'length runs past the end of its field', () => inRecords(clientHelloMessage({ extensions: [[0, Buffer.alloc(0)]] }))],
    ['a server name with a NUL byte', 'server name is not an ASCII host name', () => inRecords(clientHelloMessage({ serverNames: ['a.test\u0000.evil.test'] }))],
    ['a server name with non-ASCII bytes', 'server name is not an ASCII host name', () => inRecords(clientHelloMessage({ serverNames: ['b\u00fccher.test'] }))],
    ['an unknown name type', 'unknown server name type 1', () => inRecords(clientHelloMessage({ extensions: [[0, Buffer.from([0, 4, 1, 0, 1, 0x61])]] }))],
    [
      'bytes after the extensions',
      'bytes after the extensions',
      () => {
        const message = clientHelloMessage({ serverNames: ['a.test'] });
        const longer = Buffer.concat([message, Buffer.from([0])]);
        longer.writeUIntBE(message.length - 4 + 1, 1, 3);
        return inRecords(longer);
      },
    ],
    [
      'an extension running past its block',
      'length runs past the end of its field',
      () => {
        const message = clientHelloMessage({ serverNames: ['a.test'] });
        message[message.length - 'a.test'.length - 2] = 0xff; // high byte of the name length
        return inRecords(message);
      },
    ],
    [
      'a handshake shorter than its record',
      'unexpected handshake data after the ClientHello',
      () => Buffer.concat([inRecords(Buffer.concat([clientHelloMessage({ serverNames: ['a.test'] }), Buffer.from([1])]))]),
    ],
    [
      'a non-handshake record between fragments',
      'ClientHello interrupted by a non-handshake record',
      () => {
        const message = clientHelloMessage({ serverNames: ['a.test'] });
        const [first, second] = [message.subarray(0, 10), message.subarray(10)];
        return Buffer.concat([inRecords(first), Buffer.from([21, 3, 3, 0, 2, 1, 0]), inRecords(second)]);
      },
    ],
  ];

  it.each(invalid)('refuses %s: %s', (_name, reason, build) => {
    expect(parseClientHello(build())).toEqual({ status: 'invalid', reason });
  });
});
