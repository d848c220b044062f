// The account an environment's user gets: the image's own entry when it has the uid, else one
// appended under a name no entry has.
import { describe, expect, it } from 'vitest';
import { accountFor } from '../../../src/model/user-entries.js';

const BUSYBOX_PASSWD = 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:65532:65532:sandbox:/workspace:/bin/sh\n';
const BUSYBOX_GROUP = 'root:x:0:\nsandbox:x:65532:\n';

describe('accountFor', () => {
  it("keeps the image's own entry for its uid and gid", () => {
    expect(accountFor(BUSYBOX_PASSWD, BUSYBOX_GROUP, 65532, 65532)).toEqual({ name: 'sandbox', home: '/workspace', passwd: null, group: null });
  });

  it('appends a user and a group under a free name, home in /home', () => {
    const a = accountFor(BUSYBOX_PASSWD, BUSYBOX_GROUP, 43210, 43210);
    expect(a.name).toBe('sandbox-43210');
    expect(a.home).toBe('/home/sandbox-43210');
    expect(a.passwd).toBe(`${BUSYBOX_PASSWD}sandbox-43210:x:43210:43210:sandbox:/home/sandbox-43210:/bin/sh\n`);
    expect(a.group).toBe(`${BUSYBOX_GROUP}sandbox-43210:x:43210:\n`);
  });

  it('names the user sandbox when no entry is named so', () => {
    const a = accountFor('root:x:0:0:root:/root:/bin/sh', 'root:x:0:', 1000, 1000);
    expect(a).toEqual({
      name: 'sandbox',
      home: '/home/sandbox',
      passwd: 'root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/home/sandbox:/bin/sh\n',
      group: 'root:x:0:\nsandbox:x:1000:\n',
    });
  });

  it('counts past names already taken', () => {
    const passwd = `${BUSYBOX_PASSWD}sandbox-7:x:8:8::/:/bin/sh\nsandbox-7-2:x:9:9::/:/bin/sh\n`;
    expect(accountFor(passwd, BUSYBOX_GROUP, 7, 65532).name).toBe('sandbox-7-3');
  });

  it('adds only the group when the uid exists and the gid does not', () => {
    const a = accountFor(BUSYBOX_PASSWD, BUSYBOX_GROUP, 65532, 43210);
    expect(a.passwd).toBeNull();
    expect(a.group).toBe(`${BUSYBOX_GROUP}sandbox-43210:x:43210:\n`);
  });

  it('writes both files from nothing for an image without them', () => {
    const a = accountFor('', '', 43210, 100);
    expect(a.passwd).toBe('sandbox:x:43210:100:sandbox:/home/sandbox:/bin/sh\n');
    expect(a.group).toBe('sandbox:x:100:\n');
  });

  it('reads past comments, NIS lines and CRLF; a uid in another field is not a match', () => {
    const passwd = '# users\r\n+::::::\r\nroot:x:0:0:43210:/root:/bin/sh\r\n';
    const a = accountFor(passwd, '', 43210, 43210);
    expect(a.name).toBe('sandbox');
    expect(a.passwd).toBe(`${passwd}sandbox:x:43210:43210:sandbox:/home/sandbox:/bin/sh\n`);
  });
});
