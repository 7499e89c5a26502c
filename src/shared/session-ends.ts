import { Fanout } from "./fanout.js";

/**
 * Sessions that just ended on this node: one by its token hash (sign-out), or every session of a user
 * (disabled, password reset), perhaps but one (the user changed their own password in that one).
 */
export type SessionEnd = { sessionHash: string } | { userId: string; exceptSessionHash?: string };

/**
 * Ended sessions, fanned out in-process, so that what a session holds open on this node (an event
 * stream) closes at once. Other nodes learn of it when they next check the session in the database.
 */
export class SessionEnds extends Fanout<SessionEnd> {}

/** Whether `end` ends the session `sessionHash` of user `userId`. */
export function endsSession(end: SessionEnd, userId: string, sessionHash: string): boolean {
  if ("sessionHash" in end) return end.sessionHash === sessionHash;
  return end.userId === userId && end.exceptSessionHash !== sessionHash;
}
