// Minimal typings for pg-copy-streams (it ships none): COPY … FROM STDIN as a writable stream.
declare module 'pg-copy-streams' {
  import type { Writable } from 'node:stream';
  import type { Submittable } from 'pg';

  export function from(text: string): Writable & Submittable;
}
