import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  embeddedIpv4,
  isRefusedAddress,
  TargetGuard,
} from '../../../../src/adapters/notify/webhook/target-guard.ts';
import { ErrorCodes, HeraldError } from '../../../../src/errors.ts';
import { DeliveryError } from '../../../../src/ports/notifier.ts';
import { startFakeHttp, status } from '../../../helpers/fake-http.ts';

const refusedCode = (error: unknown) =>
  error instanceof HeraldError && error.code === ErrorCodes.TARGET_REFUSED;

test('private, loopback, link-local, CGNAT, metadata and reserved addresses are refused; public ones pass', () => {
  for (const address of [
    '127.0.0.1',
    '127.8.9.10',
    '10.0.0.1',
    '10.255.255.255',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '100.100.100.200',
    '168.63.129.16',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::1',
    '::',
    'fe80::1',
    'fd00:ec2::254',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '64:ff9b::a00:1',
    '2002:7f00:1::',
  ]) {
    assert.equal(isRefusedAddress(address), true, address);
  }
  for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) {
    assert.equal(isRefusedAddress(address), false, address);
  }
  assert.equal(embeddedIpv4('::ffff:7f00:1'), '127.0.0.1');
});

test('check refuses loopback, 10/8, the metadata address, IPv6 ::1 and a hostname resolving to loopback', async () => {
  const guard = new TargetGuard({ allow: [] });
  for (const url of [
    'http://127.0.0.1:8080/hook',
    'http://10.1.2.3/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:9000/hook',
    'http://localhost:9000/hook',
    'http://[::ffff:127.0.0.1]/hook',
  ]) {
    await assert.rejects(guard.check(url), refusedCode, url);
  }
  await assert.rejects(guard.check('ftp://example.com/'), refusedCode, 'not http');
  await assert.rejects(guard.check('http://user:pw@example.com/'), refusedCode, 'credentials');
});

test('a hostname with one public and one private address is refused', async () => {
  const guard = new TargetGuard({
    allow: [],
    resolve: async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.5', family: 4 },
    ],
  });
  await assert.rejects(guard.check('https://mixed.example/hook'), refusedCode);
});

test('WEBHOOK_ALLOW_PRIVATE_TARGETS lets named addresses and CIDRs through, nothing else', async () => {
  const guard = new TargetGuard({ allow: ['127.0.0.1', '10.0.0.0/8'] });
  assert.equal((await guard.check('http://127.0.0.1:9/x')).address, '127.0.0.1');
  assert.equal((await guard.check('http://10.9.8.7/x')).address, '10.9.8.7');
  await assert.rejects(guard.check('http://169.254.169.254/'), refusedCode);
  await assert.rejects(guard.check('http://[::1]/'), refusedCode);
  assert.throws(
    () => new TargetGuard({ allow: ['not-an-address'] }),
    (error: unknown) =>
      error instanceof HeraldError &&
      error.code === ErrorCodes.CONFIG_INVALID &&
      error.message.includes('WEBHOOK_ALLOW_PRIVATE_TARGETS'),
  );
});

test('the connection goes to the address that was checked: DNS is asked once, a rebinding answer is never used', async (t) => {
  const receiver = await startFakeHttp(t, status(204));
  const answers = ['127.0.0.1', '10.66.66.66'];
  const asked: string[] = [];
  const guard = new TargetGuard({
    allow: ['127.0.0.1'],
    resolve: async (hostname) => {
      asked.push(hostname);
      // First answer allowed; any later lookup would "rebind" to an address nobody checked.
      return [{ address: answers.shift() ?? '10.66.66.66', family: 4 }];
    },
  });
  const result = await guard.post(
    'webhook',
    `http://rebind.test:${receiver.port}/hook`,
    { 'content-type': 'application/json' },
    '{}',
    AbortSignal.timeout(5000),
  );
  assert.equal(result.status, 204);
  assert.deepEqual(asked, ['rebind.test'], 'resolved once, by the guard');
  assert.equal(receiver.requests.length, 1);
  assert.equal(receiver.requests[0]?.headers.host, `rebind.test:${receiver.port}`);
});

test('redirects are not followed: a 3xx is a permanent failure and the target is never called', async (t) => {
  const elsewhere = await startFakeHttp(t, status(200));
  const receiver = await startFakeHttp(t, status(302, { location: `${elsewhere.url}/steal` }));
  const guard = new TargetGuard({ allow: ['127.0.0.1'] });
  await assert.rejects(
    guard.post('webhook', `${receiver.url}/hook`, {}, '{}', AbortSignal.timeout(5000)),
    (error: unknown) =>
      error instanceof DeliveryError &&
      !error.retryable &&
      error.statusCode === 302 &&
      /redirect/.test(error.message),
  );
  assert.equal(receiver.requests.length, 1);
  assert.equal(elsewhere.requests.length, 0);
});

test('post refuses a private target as a permanent delivery failure without connecting', async (t) => {
  const receiver = await startFakeHttp(t, status(200));
  const guard = new TargetGuard({ allow: [] });
  await assert.rejects(
    guard.post('webhook', `${receiver.url}/hook`, {}, '{}', AbortSignal.timeout(5000)),
    (error: unknown) => error instanceof DeliveryError && !error.retryable,
  );
  assert.equal(receiver.requests.length, 0);
});
