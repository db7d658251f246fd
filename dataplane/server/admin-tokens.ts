/**
 * Who may do what on the admin listener. Two bearer tokens:
 *
 * | token                         | PUT /v1/snapshot | GET /v1/snapshot?full=1, /debug/config_dump/* |
 * |-------------------------------|------------------|-----------------------------------------------|
 * | push (`--push-token-file`)    | yes              | yes                                           |
 * | read (`--read-token-file`)    | no               | yes                                           |
 *
 * The dumps show every route, pod address, scheduler and auth setting: enough to map the fleet,
 * so they are not for whoever reaches the port. A separate read token lets people and tools debug
 * without being able to change routing. `/metrics`, `/healthz` and the plain `GET /v1/snapshot`
 * (version and hash only) stay open: Prometheus, probes and scripts read them without secrets.
 *
 * With no token configured at all (a bare local run) everything is open, as before; the data
 * plane says so once at start. Tokens are compared by SHA-256 digest with timingSafeEqual, so the
 * time taken tells nothing about the guess, whatever its length.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** `<scheme> <credential>`; the scheme is case-insensitive (RFC 7235 §2.1), one credential. */
const AUTHORIZATION = /^\s*(\S+)[ \t]+(\S+)\s*$/;

/** The bearer credential of an Authorization header, or null when there is none. */
export function bearerCredential(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = AUTHORIZATION.exec(header);
  if (!m || m[1]!.toLowerCase() !== 'bearer') return null;
  return m[2]!;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The admin listener's two tokens, checked in constant time. */
export class AdminTokens {
  private readonly push: Buffer | null;
  private readonly read: Buffer | null;

  constructor(pushToken: string | null, readToken: string | null) {
    this.push = pushToken ? digest(pushToken) : null;
    this.read = readToken ? digest(readToken) : null;
  }

  /** True when reads need no token (neither token is configured). */
  get readsOpen(): boolean {
    return this.push === null && this.read === null;
  }

  /** May this Authorization header push a snapshot? */
  canPush(header: string | undefined): boolean {
    if (this.push === null) return true;
    return matches(bearerCredential(header), this.push);
  }

  /** May this Authorization header read the full snapshot and the debug dumps? */
  canRead(header: string | undefined): boolean {
    if (this.readsOpen) return true;
    const given = bearerCredential(header);
    // Both comparisons always run, so the answer time does not say which token was close.
    const byPush = this.push !== null && matches(given, this.push);
    const byRead = this.read !== null && matches(given, this.read);
    return byPush || byRead;
  }
}

function matches(given: string | null, want: Buffer): boolean {
  return timingSafeEqual(digest(given ?? ''), want) && given !== null;
}
