import { randomBytes } from 'node:crypto';
import type { Subject } from '../iam/subject.js';

/** How long a dashboard session lives after sign-in. */
export const UI_SESSION_TTL_MS = 15 * 60_000;
/** Most sessions held at once; the oldest goes first. */
const MAX_SESSIONS = 10_000;

/**
 * The dashboard's sessions: a user signs in once with a token, and the page then holds a random
 * session id (in an HttpOnly cookie) standing for the token's subject for a short while. Only the
 * subject is kept, never the token; sessions live in memory and end with the server.
 */
export class UiSessions {
  private readonly sessions = new Map<string, { subject: Subject; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new session for `subject`: its id, and until when it lives (ms since the epoch). */
  open(subject: Subject): { id: string; expiresAt: number } {
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + UI_SESSION_TTL_MS;
    this.sessions.set(id, { subject, expiresAt });
    return { id, expiresAt };
  }

  /** The subject of live session `id`; undefined for an unknown or expired one. */
  subjectOf(id: string | undefined): Subject | undefined {
    if (id === undefined) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt > this.now()) return session.subject;
    this.sessions.delete(id);
    return undefined;
  }

  /** How long live session `id` has left, in ms (0 for an unknown or expired one). */
  lifeLeft(id: string | undefined): number {
    const session = id === undefined ? undefined : this.sessions.get(id);
    return session ? Math.max(0, session.expiresAt - this.now()) : 0;
  }

  close(id: string | undefined): void {
    if (id !== undefined) this.sessions.delete(id);
  }
}
