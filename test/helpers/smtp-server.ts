/**
 * A real SMTP server (the smtp-server package) on 127.0.0.1 for tests: it records each message
 * it accepted (replied 250 to), and a test can script the reply to the next messages: accept,
 * refuse with an SMTP code, or hold the message without replying (a mail server stalling
 * after DATA). A held message whose client goes away was never accepted: the server took no
 * responsibility for it (RFC 5321 §4.1.1.4), so it is not recorded.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import type { Cleanup } from './platform.ts';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  messageId: string | undefined;
  subject: string | undefined;
}

export type SmtpReply =
  /** 250; `before` runs first (the test's moment between acceptance and the client's record). */
  | { kind: 'accept'; before?: () => void | Promise<void> }
  | { kind: 'refuse'; code: number; message: string }
  /** Never replies to the end of DATA; resolves `held` when the message has fully arrived. */
  | { kind: 'hold' };

export interface FakeSmtp {
  url: string;
  port: number;
  /** Messages accepted (250 sent). */
  accepted: ReceivedMail[];
  /** Messages that arrived in full, whatever the reply. */
  arrived: number;
  script(...replies: SmtpReply[]): void;
  /** Resolves when a held message has fully arrived (the client awaits our reply). */
  held(): Promise<void>;
  close(): Promise<void>;
}

function header(raw: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:[ \\t]*(.*(?:\\r?\\n[ \\t].*)*)`, 'im').exec(raw);
  return match?.[1]?.replace(/\r?\n[ \t]+/g, ' ').trim();
}

export async function startSmtpServer(t: Cleanup): Promise<FakeSmtp> {
  const queue: SmtpReply[] = [];
  const accepted: ReceivedMail[] = [];
  let arrived = 0;
  const heldWaiters: Array<() => void> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        arrived += 1;
        const raw = Buffer.concat(chunks).toString('utf8');
        const reply = queue.shift() ?? { kind: 'accept' };
        if (reply.kind === 'hold') {
          for (const wake of heldWaiters.splice(0)) wake();
          return; // no reply: the client waits until it gives up or dies
        }
        if (reply.kind === 'refuse') {
          const error = new Error(reply.message) as Error & { responseCode: number };
          error.responseCode = reply.code;
          callback(error);
          return;
        }
        accepted.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          messageId: header(raw, 'Message-ID'),
          subject: header(raw, 'Subject'),
        });
        Promise.resolve(reply.before?.()).then(() => callback());
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    return closed;
  };
  t.after(close);
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    accepted,
    get arrived() {
      return arrived;
    },
    script: (...replies) => queue.push(...replies),
    held: () => new Promise<void>((resolve) => heldWaiters.push(resolve)),
    close,
  };
}
