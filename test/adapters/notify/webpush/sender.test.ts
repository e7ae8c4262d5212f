import assert from 'node:assert/strict';
import {
  createDecipheriv,
  createECDH,
  createHmac,
  createPublicKey,
  randomBytes,
  verify,
} from 'node:crypto';
import { test } from 'node:test';
import webpush from 'web-push';
import { WebPushSender } from '../../../../src/adapters/notify/webpush/sender.ts';
import { DeliveryError } from '../../../../src/ports/notifier.ts';
import { startFakeHttp, status } from '../../../helpers/fake-http.ts';

const hmac = (key: Buffer, data: Buffer) => createHmac('sha256', key).update(data).digest();

/** A browser's side of a subscription: its key pair and auth secret. */
function browser() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return {
    ecdh,
    auth,
    keys: {
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: auth.toString('base64url'),
    },
  };
}

/** RFC 8291 aes128gcm decryption, written out independently of web-push. */
function decrypt(body: Buffer, ua: ReturnType<typeof browser>): string {
  const salt = body.subarray(0, 16);
  const idLength = body[20] ?? 0;
  const senderPublic = body.subarray(21, 21 + idLength);
  const cipherText = body.subarray(21 + idLength);
  const shared = ua.ecdh.computeSecret(senderPublic);
  const info = Buffer.concat([
    Buffer.from('WebPush: info\0'),
    ua.ecdh.getPublicKey(),
    senderPublic,
    Buffer.from([1]),
  ]);
  const ikm = hmac(hmac(ua.auth, shared), info);
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01', 'binary')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01', 'binary')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(cipherText.subarray(cipherText.length - 16));
  const plain = Buffer.concat([
    decipher.update(cipherText.subarray(0, cipherText.length - 16)),
    decipher.final(),
  ]);
  const delimiter = plain.lastIndexOf(2);
  return plain.subarray(0, delimiter).toString('utf8');
}

/** Checks the VAPID JWT's ES256 signature with the advertised public key; returns its claims. */
function vapidClaims(authorization: string): Record<string, unknown> {
  const match = /^vapid t=([^,]+), k=(.+)$/.exec(authorization);
  assert.ok(match, authorization);
  const [header, claims, signature] = (match[1] ?? '').split('.');
  const raw = Buffer.from(match[2] ?? '', 'base64url');
  const key = createPublicKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: raw.subarray(1, 33).toString('base64url'),
      y: raw.subarray(33, 65).toString('base64url'),
    },
    format: 'jwk',
  });
  const valid = verify(
    'sha256',
    Buffer.from(`${header}.${claims}`),
    { key, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature ?? '', 'base64url'),
  );
  assert.ok(valid, 'the VAPID signature verifies');
  return JSON.parse(Buffer.from(claims ?? '', 'base64url').toString('utf8'));
}

const vapid = { subject: 'mailto:ops@herald.test', ...webpush.generateVAPIDKeys() };

test('Web Push: an encrypted, VAPID-signed request the browser can decrypt; 201 is accepted', async (t) => {
  const push = await startFakeHttp(t, status(201, { location: `/m/abc` }));
  const ua = browser();
  const sender = new WebPushSender(vapid);
  const receipt = await sender.send(
    {
      subscription: { endpoint: `${push.url}/push/sub-1`, keys: ua.keys },
      payload: JSON.stringify({ title: 'Welcome', body: 'Your account is ready' }),
      ttlSeconds: 3600,
      topic: 'user-created',
    },
    AbortSignal.timeout(5000),
  );
  assert.deepEqual(receipt, { provider: 'webpush', statusCode: 201, providerMessageId: '/m/abc' });
  const request = push.requests[0];
  assert.ok(request);
  assert.equal(request.path, '/push/sub-1');
  assert.equal(request.headers['content-encoding'], 'aes128gcm');
  assert.equal(request.headers.ttl, '3600');
  assert.equal(request.headers.topic, 'user-created');
  assert.deepEqual(JSON.parse(decrypt(request.body, ua)), {
    title: 'Welcome',
    body: 'Your account is ready',
  });
  const claims = vapidClaims(String(request.headers.authorization));
  assert.equal(claims.aud, push.url);
  assert.equal(claims.sub, 'mailto:ops@herald.test');
  assert.ok(Number(claims.exp) > Date.now() / 1000);
});

test('Web Push failures: 410/404 mean the subscription is gone (permanent), 429 and 5xx retryable, timeouts retryable', async (t) => {
  const push = await startFakeHttp(t);
  const ua = browser();
  const sender = new WebPushSender(vapid);
  const message = {
    subscription: { endpoint: `${push.url}/push/sub-2`, keys: ua.keys },
    payload: '{}',
    ttlSeconds: 60,
  };
  push.script(status(410), status(404), status(429, { 'retry-after': '5' }), status(502), {
    kind: 'hang',
  });
  const seen: Array<[boolean, boolean, number | undefined, number | undefined]> = [];
  for (const deadline of [5000, 5000, 5000, 5000, 200]) {
    await assert.rejects(sender.send(message, AbortSignal.timeout(deadline)), (error: unknown) => {
      assert.ok(error instanceof DeliveryError);
      seen.push([error.retryable, error.gone, error.statusCode, error.retryAfterMs]);
      return true;
    });
  }
  assert.deepEqual(seen, [
    [false, true, 410, undefined],
    [false, true, 404, undefined],
    [true, false, 429, 5000],
    [true, false, 502, undefined],
    [true, false, undefined, undefined],
  ]);
});
